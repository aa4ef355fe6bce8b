import type { FastifyInstance } from 'fastify'
import type { Config } from '../config.js'
import { DEFAULT_APP, type Deploy } from '../../contract/deploy.js'
import { appSchema, versionSchema } from '../../contract/fields.js'
import { TooManyStreamsError } from '../errors.js'
import type { Hub } from '../hub.js'
import { jitteredRetry, openEventStream } from '../event-stream.js'
import { eventFrame } from '../sse.js'
import type { Store } from '../store/store.js'

interface EventsQuery {
  app?: string
  version?: string
}

/** `GET /events`: the stream every open page holds. */
export async function eventsRoutes(
  app: FastifyInstance,
  { config, store, hub }: { config: Config; store: Store; hub: Hub },
): Promise<void> {
  // A reconnect storm after a deploy encodes the current state once, not once per browser.
  const versionFrames = new WeakMap<Deploy, Buffer>()
  const versionFrame = (deploy: Deploy): Buffer => {
    let frame = versionFrames.get(deploy)
    if (!frame) versionFrames.set(deploy, (frame = eventFrame('version', deploy)))
    return frame
  }
  const retryAfterSeconds = String(Math.ceil(config.retryMs / 1000))

  app.get<{ Querystring: EventsQuery }>(
    '/events',
    {
      // A HEAD answer must not carry a body, and this handler writes straight to the socket.
      exposeHeadRoute: false,
      schema: { querystring: { type: 'object', properties: { app: appSchema, version: versionSchema } } },
    },
    (request, reply) => {
      if (hub.size >= config.maxConnections) {
        reply.header('retry-after', retryAfterSeconds)
        throw new TooManyStreamsError(config.maxConnections)
      }
      const appName = request.query.app ?? DEFAULT_APP
      const current = store.current(appName)
      let firstBytes = jitteredRetry(config.retryMs)
      // A reconnecting browser that already saw the current deploy does not need it again.
      if (current && current.id !== request.headers['last-event-id']) {
        firstBytes = Buffer.concat([firstBytes, versionFrame(current)])
      }
      openEventStream(request, reply, (socket) =>
        hub.add(appName, request.query.version ?? 'unknown', socket, firstBytes),
      )
    },
  )
}
