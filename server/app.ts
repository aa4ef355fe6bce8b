import cors from '@fastify/cors'
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyServerOptions,
} from 'fastify'
import { AppNames } from './app-names.js'
import type { Config } from './config.js'
import { connectionLimits, limitOtherConnections } from './connection-limits.js'
import { clearerMessages, fastifyCodes, RouteNotFoundError, ShuttingDownError } from './errors.js'
import { rememberHttpListeners } from './event-stream.js'
import { Hub } from './hub.js'
import { createMetrics } from './metrics.js'
import { lingerAfterEarlyAnswers } from './lingering-close.js'
import { PAGES_PER_ADDRESS_STREAM, PageCounts } from './page-counts.js'
import { clientRoutes } from './routes/client.js'
import { eventsRoutes } from './routes/events.js'
import { notifyRoutes } from './routes/notify.js'
import { opsRoutes } from './routes/ops.js'
import { statusPageRoutes } from './routes/status-page.js'
import { statusRoutes } from './routes/status.js'
import { versionRoutes } from './routes/version.js'
import { schemaErrorFormatter } from './schema-errors.js'
import { VersionSampler } from './status.js'
import { LET_GO_MS, type Store } from './store/store.js'
import { EventStreams } from './streams.js'

/** How long closing waits for requests in flight before it closes every connection. */
const CLOSE_GRACE_MS = 2000
/** How often the app asks the store whether this replica is cut off from the others. */
const ISOLATION_CHECK_MS = 500
/**
 * How long a connection may stay open between requests (Node's default is 5 s, Fastify's 72 s):
 * idle connections hold descriptors that notifies and streams need. Node closes them a second
 * after it (HTTP_SERVER_KEEP_ALIVE_TIMEOUT_BUFFER), so by REQUEST_TIMEOUT_MS at the latest.
 */
const KEEP_ALIVE_MS = 5000

/** Trusts the first `hops` proxies in front, as Fastify does with a number (its types lack it). */
const trustHops =
  (hops: number) =>
  (_address: string, hop: number): boolean =>
    hop < hops

export interface AppOptions {
  config: Config
  store: Store
  /** Fastify's `logger` option; tests pass `false`. */
  logger?: FastifyServerOptions['logger'] | FastifyBaseLogger
}

/**
 * Builds the sidecar from config and store. It never listens: `main.ts` binds the port, and
 * tests build as many apps as they like. Closing the app ends every stream and timer it made;
 * the store belongs to the caller.
 */
export async function buildApp({ config, store, logger = false }: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    ...(typeof logger === 'object' && logger !== null && 'child' in logger ? { loggerInstance: logger } : { logger }),
    // Thousands of streams connect and reconnect; one log line each is noise, not insight.
    logController: new LogController({ disableRequestLogging: true }),
    // Unknown fields are refused, not silently dropped, and "true" is not a boolean. All errors
    // are collected so a typo is reported as such rather than as the field it misses.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: true } },
    schemaErrorFormatter,
    // Ends idle keep-alive connections on close, so shutdown does not wait for them.
    forceCloseConnections: 'idle',
    // Fastify's own 503 while closing is not { error, message }: the onRequest hook below answers.
    return503OnClosing: false,
    // A connection that never becomes a request (silent, a partial head, a trickling body) is
    // closed: idle for this long, or its request not complete this long after its first byte.
    // A stream's request is complete at its head, and its socket then has no timeout.
    connectionTimeout: config.requestTimeoutMs,
    requestTimeout: config.requestTimeoutMs,
    keepAliveTimeout: Math.max(1000, Math.min(KEEP_ALIVE_MS, config.requestTimeoutMs - 1000)),
    // The client address (per-address limits) is the forwarded one, from proxies trusted to say so.
    trustProxy: typeof config.trustProxy === 'number' ? trustHops(config.trustProxy) : config.trustProxy,
    http: {
      headersTimeout: config.requestTimeoutMs,
      // Node checks the two timeouts above this often (default 30 s).
      connectionsCheckingInterval: Math.min(1000, Math.ceil(config.requestTimeoutMs / 4)),
    },
  })

  // Before any other 'connection' listener but Node's: see openEventStream.
  app.server.on('connection', rememberHttpListeners)
  const limits = connectionLimits(config.maxConnections)
  if (limits.streams < config.maxConnections) {
    app.log.warn(
      { maxConnections: config.maxConnections, streams: limits.streams, otherConnections: limits.others },
      `the open-file limit leaves room for ${limits.streams} streams, fewer than MAX_CONNECTIONS, beside ` +
        `${limits.others} other connections (notifies, health checks); raise it with "ulimit -n"`,
    )
  }
  const otherConnections = limitOtherConnections(app.server, limits, () => registry.size)
  const registry = new EventStreams({
    keepaliveMs: config.keepaliveMs,
    lifetimeMs: config.streamLifetimeMs,
    onAdmit: (socket) => otherConnections.release(socket),
  })
  const hub = new Hub(registry)
  const pageCounts = new PageCounts({ pagesPerAddress: PAGES_PER_ADDRESS_STREAM * config.maxStreamsPerAddress })
  const metrics = createMetrics(hub, pageCounts, store)
  // Open pages over every process sharing the store (replicas), for /status.
  const counts = store.streamCounts(pageCounts)
  const known = (appName: string): boolean => store.current(appName) !== undefined
  const sampler = new VersionSampler(counts, known)
  const appNames = new AppNames(
    known,
    (appName) => pageCounts.has(appName) || hub.connections(appName) > 0 || sampler.has(appName),
  )
  // A replica cut off from the others lets go of its pages, so they are counted where they land
  // (the other replicas count on it: `keptForMs` in store/redis-counts.ts); /events refuses meanwhile.
  let isolated = false
  const isolation = setInterval(() => {
    const why = store.isolated()
    if (why !== undefined && !isolated) {
      app.log.warn(
        `${why}: ending this replica's ${hub.size} streams within ${LET_GO_MS / 1000} s, so their pages move to replicas that count them`,
      )
      hub.letGo(LET_GO_MS)
    }
    isolated = why !== undefined
  }, ISOLATION_CHECK_MS).unref()
  store.onChange((deploy) => {
    const start = process.hrtime.bigint()
    try {
      hub.broadcast(deploy)
    } catch (error) {
      // The encoder refused a field the store should never have let through: no page gets it.
      app.log.error({ err: error, app: deploy.app }, 'deploy not broadcast')
      return
    }
    metrics.recordBroadcast(deploy, Number(process.hrtime.bigint() - start) / 1e9)
  })
  // One stream per connection: a request pipelined behind a stream in the same read (before
  // the stream's socket is released from the HTTP server) ends the connection.
  app.addHook('onRequest', (request, reply, done) => {
    if (registry.holds(request.raw.socket)) {
      request.raw.socket.destroy()
      reply.hijack()
    }
    done()
  })
  let forceClose: NodeJS.Timeout | undefined
  let closing = false
  app.addHook('onRequest', async (_request, reply) => {
    if (!closing) return
    reply.header('connection', 'close')
    throw new ShuttingDownError()
  })
  app.addHook('preClose', async () => {
    closing = true
    // Streams never finish by themselves; end them first so the server can close.
    registry.close()
    // Node does not count a connection that never sent a request (a browser's preconnect) as
    // idle, so close() would wait for it to time out. Requests in flight get this long to finish.
    forceClose = setTimeout(() => app.server.closeAllConnections(), CLOSE_GRACE_MS).unref()
  })
  app.addHook('onClose', async () => {
    clearTimeout(forceClose)
    clearInterval(isolation)
    sampler.close()
    await counts.close()
    pageCounts.close()
  })

  lingerAfterEarlyAnswers(app)

  // Only JSON bodies are accepted anywhere; text/plain would otherwise reach the schema as a string.
  app.removeContentTypeParser('text/plain')

  await app.register(cors, {
    origin: config.corsOrigins === '*' ? '*' : config.corsOrigins,
    methods: ['GET', 'HEAD'],
  })

  app.setErrorHandler((error: FastifyError, request, reply) => {
    const status = error.statusCode ?? 500
    if (status >= 500 && !error.code?.startsWith('DN_ERR')) request.log.error({ err: error }, 'request failed')
    const code = fastifyCodes[error.code] ?? (error.code?.startsWith('DN_ERR') ? error.code : 'DN_ERR_INTERNAL')
    const message =
      code === 'DN_ERR_INTERNAL' && status >= 500 ? 'internal error' : (clearerMessages[code] ?? error.message)
    return reply.code(status).send({ error: code, message })
  })
  app.setNotFoundHandler((request) => {
    throw new RouteNotFoundError(request.method, request.url.split('?')[0])
  })

  await app.register(eventsRoutes, { config, store, hub, pageCounts, registry, limits, appNames })
  await app.register(notifyRoutes, { config, store, hub })
  await app.register(versionRoutes, { store })
  await app.register(opsRoutes, { metrics, store })
  await app.register(clientRoutes)
  await app.register(statusRoutes, { store, counts, sampler })
  await app.register(statusPageRoutes, { store, counts, sampler, registry, limits, config })
  return app
}
