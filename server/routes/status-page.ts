import type { FastifyInstance } from 'fastify'
import type { ConnectionLimits } from '../connection-limits.js'
import { ClientNotBuiltError, TooManyStreamsError, TooManyStreamsFromAddressError } from '../errors.js'
import { matchesEtag } from '../etag.js'
import { jitteredRetry, openEventStream } from '../event-stream.js'
import { loadStatusPage } from '../status-page/page.js'
import { statusFrame } from '../sse.js'
import { MAX_STATUS_STREAMS, MAX_STATUS_STREAMS_PER_ADDRESS, StatusStreams } from '../status-page/streams.js'
import { statusSnapshot, type StreamCounts, type VersionSampler } from '../status.js'
import type { Store } from '../store/store.js'
import type { EventStreams } from '../streams.js'

export interface StatusPageOptions {
  store: Store
  counts: StreamCounts
  sampler: VersionSampler
  /** The app's one registry of open event streams. */
  registry: EventStreams
  limits: ConnectionLimits
  /** `RETRY_MS`: the reconnection hint of the status stream, as of `/events`. */
  config: { retryMs: number }
}

/**
 * `GET /`: the status page, and `GET /status/events`: the stream it updates itself from, a
 * `status` event with the `/status` snapshot at connect, then every 2 s and on every deploy.
 * Both are public: counts and deploys only, like `/status`.
 */
export async function statusPageRoutes(
  app: FastifyInstance,
  { store, counts, sampler, registry, limits, config }: StatusPageOptions,
): Promise<void> {
  const { retryMs } = config
  const streams = new StatusStreams(
    registry,
    () => statusSnapshot(store, counts, sampler),
    (error) => app.log.warn({ err: error }, 'status snapshot failed'),
  )
  // A deploy shows on the pages at once, not at the next tick.
  store.onChange(() => streams.push())
  // The registry ends the streams when the app closes; the snapshot timer stops with them.
  app.addHook('preClose', async () => streams.close())

  const statusPage = await loadStatusPage()
  app.get('/', (request, reply) => {
    if (!statusPage) throw new ClientNotBuiltError()
    reply
      .header('cache-control', 'no-cache')
      .header('etag', statusPage.etag)
      .header('content-security-policy', statusPage.contentSecurityPolicy)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
    if (matchesEtag(request.headers['if-none-match'], statusPage.etag)) return reply.code(304).send()
    return reply.type('text/html; charset=utf-8').send(statusPage.html)
  })

  app.get('/status/events', { exposeHeadRoute: false }, (request, reply) => {
    const address = request.ip
    if (streams.size >= MAX_STATUS_STREAMS || registry.size >= limits.streams) {
      reply.header('retry-after', String(Math.ceil(retryMs / 1000)))
      throw new TooManyStreamsError(Math.min(MAX_STATUS_STREAMS, limits.streams))
    }
    if (streams.countFrom(address) >= MAX_STATUS_STREAMS_PER_ADDRESS) {
      reply.header('retry-after', String(Math.ceil(retryMs / 1000)))
      throw new TooManyStreamsFromAddressError(MAX_STATUS_STREAMS_PER_ADDRESS)
    }
    // Taken before the hijack, so a failure is an ordinary error answer.
    const first = statusFrame(statusSnapshot(store, counts, sampler))
    openEventStream(request, reply, (socket) =>
      streams.add(socket, address, Buffer.concat([jitteredRetry(retryMs), first])),
    )
  })
}
