import type { FastifyInstance } from 'fastify'
import { pino } from 'pino'
import { buildApp } from './app.js'
import { usesRedis, type Config } from './config.js'
import { generatedToken } from './notify-token.js'
import { createStore } from './store/create-store.js'
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
 * Opens the store (`createStore`), builds the app and listens. Without NOTIFY_TOKEN, notify
 * requires the token generated into DATA_DIR (`notify-token.ts`). Start-up failures are coded
 * errors (`DN_ERR_CONFIG`, `DN_ERR_STATE`, `DN_ERR_DATA_DIR_IN_USE`, or the listen errno) that
 * the CLI turns into an exit code and one sentence.
 */
export async function startSidecar(config: Config): Promise<Sidecar> {
  const logger = pino({ level: 'info' })
  const generated = config.notifyToken === undefined ? await generatedToken(config.dataDir) : undefined
  const store = await createStore(config, logger)
  const app = await buildApp({
    config: { ...config, notifyToken: generated?.token ?? config.notifyToken },
    store,
    logger,
  })
  if (generated) {
    const how = generated.created ? 'generated a token into' : 'uses the token in'
    app.log.warn(
      { tokenFile: generated.path },
      `NOTIFY_TOKEN is not set: POST /notify ${how} ${generated.path} (owner-only); ` +
        `"deploy-notify notify" on this host reads it there. Set NOTIFY_TOKEN to notify from elsewhere`,
    )
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
  const where = usesRedis(config) ? { redis: true } : { dataDir: config.dataDir }
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
