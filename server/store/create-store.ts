import { usesRedis, type Config } from '../config.js'
import { openFileStore } from './file.js'
import type { RedisSettings } from './redis-connection.js'
import { openRedisStore, type StoreLog } from './redis.js'
import type { Store } from './store.js'

/**
 * The one place the store is chosen, as @fastify/rate-limit picks its store: Redis when one of
 * its modes is set (`REDIS_URL`, `REDIS_SENTINELS`, `REDIS_CLUSTER_NODES`: replicas share state,
 * fan-out and counts through it), else the file under `DATA_DIR`. Nothing else knows which runs.
 */
export function createStore(
  config: RedisSettings & Pick<Config, 'dataDir' | 'retryMs'>,
  log: StoreLog,
): Promise<Store> {
  const timing = { commandTimeoutMs: config.redisCommandTimeoutMs, retryMs: config.retryMs }
  return usesRedis(config) ? openRedisStore(config, log, timing) : openFileStore(config.dataDir)
}
