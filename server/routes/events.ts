import type { FastifyInstance } from 'fastify'
import type { Config } from '../config.js'
import { DEFAULT_APP, type Deploy } from '../../contract/deploy.js'
import { appSchema, versionSchema } from '../../contract/fields.js'
import { pagesField, readPages, tabsField } from '../../contract/pages.js'
import { InvalidPagesError, TooManyStreamsError } from '../errors.js'
import type { Hub } from '../hub.js'
import type { PageCounts } from '../page-counts.js'
import { jitteredRetry, openEventStream } from '../event-stream.js'
import { eventFrame } from '../sse.js'
import type { Store } from '../store/store.js'

interface EventsQuery {
  app?: string
  version?: string
  /** The browser's pages of the app by version, JSON (`contract/pages.ts`); else one page of `version`. */
  pages?: string
  /** The id the browser's tabs share: a stream with it replaces the last one with it. */
  tabs?: string
}

/** `GET /events`: the stream every open page holds. */
export async function eventsRoutes(
  app: FastifyInstance,
  { config, store, hub, pageCounts }: { config: Config; store: Store; hub: Hub; pageCounts: PageCounts },
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
      schema: {
        querystring: {
          type: 'object',
          properties: {
            app: appSchema,
            version: versionSchema,
            pages: pagesField.schema,
            tabs: tabsField.schema,
          },
        },
      },
    },
    (request, reply) => {
      const { version = 'unknown', tabs } = request.query
      const pages = request.query.pages === undefined ? new Map([[version, 1]]) : readPages(request.query.pages)
      if (!pages) throw new InvalidPagesError(pagesField.rule)
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
      openEventStream(request, reply, (socket) => {
        // Gone before its head was written: it would never emit 'close' again, so never count it.
        if (socket.destroyed) return
        hub.add(appName, socket, firstBytes)
        socket.once('close', pageCounts.open(appName, pages, tabs))
      })
    },
  )
}
