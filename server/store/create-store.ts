import type { Config } from '../config.js'
import { openFileStore } from './file.js'
import { openRedisStore, type StoreLog } from './redis.js'
import type { Store } from './store.js'

/**
 * The one place the store is chosen, as @fastify/rate-limit picks its store: Redis when
 * `REDIS_URL` is set (replicas share state, fan-out and counts through it), else the file
 * under `DATA_DIR`. Nothing else knows which one runs.
 */
export function createStore(
  config: Pick<Config, 'redisUrl' | 'dataDir' | 'redisCommandTimeoutMs' | 'retryMs'>,
  log: StoreLog,
): Promise<Store> {
  const timing = { commandTimeoutMs: config.redisCommandTimeoutMs, retryMs: config.retryMs }
  return config.redisUrl ? openRedisStore(config.redisUrl, log, timing) : openFileStore(config.dataDir)
}
