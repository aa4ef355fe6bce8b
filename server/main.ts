import type { FastifyInstance } from 'fastify'
import { pino } from 'pino'
import { buildApp } from './app.js'
import { ReplicaCounts } from './replica-counts.js'
import type { Config } from './config.js'
import type { StreamCounts } from './status.js'
import { openFileStore } from './store/file.js'
import { openRedisStore } from './store/redis.js'
import type { Store } from './store/store.js'

/** How long a shutdown may take before the process exits anyway. */
const SHUTDOWN_GRACE_MS = 10_000

/** A running sidecar: config -> store -> app -> listen. */
export interface Sidecar {
  app: FastifyInstance
  store: Store
  /** The bound port (useful with `PORT=0`). */
  port: number
  close(): Promise<void>
}

/**
 * Opens the store (Redis when REDIS_URL is set, else the file under DATA_DIR), builds the app
 * and listens. Throws StoreError when the state cannot be read.
 */
export async function startSidecar(config: Config): Promise<Sidecar> {
  const logger = pino({ level: 'info' })
  const store = config.redisUrl ? await openRedisStore(config.redisUrl, logger) : await openFileStore(config.dataDir)
  const redisUrl = config.redisUrl
  const counts = redisUrl ? (local: StreamCounts) => new ReplicaCounts(redisUrl, local) : undefined
  const app = await buildApp({ config, store, counts, logger })
  if (config.notifyToken === undefined) {
    app.log.warn('NOTIFY_TOKEN is not set: POST /notify is accepted from loopback callers only')
  }
  try {
    await app.listen({ port: config.port, host: config.host })
  } catch (error) {
    await app.close()
    await store.close()
    throw error
  }
  const address = app.server.address()
  const port = typeof address === 'object' && address !== null ? address.port : config.port
  const where = config.redisUrl ? { redis: true } : { dataDir: config.dataDir }
  app.log.info({ port, host: config.host, ...where }, `deploy-notify listening on http://${config.host}:${port}`)
  return {
    app,
    store,
    port,
    async close() {
      await app.close()
      await store.close()
    },
  }
}

/**
 * Stops on SIGTERM or SIGINT: stop accepting, end the streams, finish notifies in flight,
 * exit 0. A second signal, or a shutdown stuck past the grace period, exits at once.
 */
export function closeOnSignals(sidecar: Sidecar): void {
  let closing = false
  const shutdown = (signal: NodeJS.Signals): void => {
    if (closing) process.exit(1)
    closing = true
    sidecar.app.log.info({ signal }, 'shutting down')
    setTimeout(() => {
      sidecar.app.log.error('shutdown took too long; exiting')
      process.exit(1)
    }, SHUTDOWN_GRACE_MS).unref()
    sidecar.close().then(
      () => process.exit(0),
      (error: unknown) => {
        sidecar.app.log.error({ err: error }, 'shutdown failed')
        process.exit(1)
      },
    )
  }
  process.on('SIGTERM', shutdown)
  process.on('SIGINT', shutdown)
}
