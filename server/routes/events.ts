import type { Socket } from 'node:net'
import type { FastifyInstance } from 'fastify'
import type { Config } from '../config.js'
import { DEFAULT_APP, type Deploy } from '../../contract/deploy.js'
import { appSchema, versionSchema } from '../../contract/fields.js'
import { pagesField, readPages, tabsField } from '../../contract/pages.js'
import type { AppNames } from '../app-names.js'
import type { ConnectionLimits } from '../connection-limits.js'
import {
  CutOffError,
  InvalidPagesError,
  TooManyAppsError,
  TooManyStreamsError,
  TooManyStreamsFromAddressError,
} from '../errors.js'
import type { Hub } from '../hub.js'
import type { PageCounts } from '../page-counts.js'
import { jitteredRetry, openEventStream } from '../event-stream.js'
import { eventFrame } from '../sse.js'
import type { Store } from '../store/store.js'
import type { EventStreams } from '../streams.js'

export interface EventsOptions {
  config: Config
  store: Store
  hub: Hub
  pageCounts: PageCounts
  /** The app's one registry of open event streams (of every kind), for the descriptor budget. */
  registry: EventStreams
  limits: ConnectionLimits
  appNames: AppNames
}

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
  { config, store, hub, pageCounts, registry, limits, appNames }: EventsOptions,
): Promise<void> {
  // A reconnect storm after a deploy encodes the current state once, not once per browser:
  // one frame for pages on a version the sidecar deployed before, one for pages on a version
  // it has never had (loaded in the deploy window, or older than the history).
  const versionFrames = new WeakMap<Deploy, { known: Buffer; unknown: Buffer }>()
  const versionFrame = (deploy: Deploy, known: boolean): Buffer => {
    let frames = versionFrames.get(deploy)
    if (!frames) {
      // The page tells a deploy window from a lagging CDN by it (client/core/notifier.ts).
      const unknownVersion: Deploy & { unknownVersion: true } = { ...deploy, unknownVersion: true }
      frames = { known: eventFrame('version', deploy), unknown: eventFrame('version', unknownVersion) }
      versionFrames.set(deploy, frames)
    }
    return known ? frames.known : frames.unknown
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
      const appName = request.query.app ?? DEFAULT_APP
      // One client address (an office behind one NAT, or one attacker) never takes every slot.
      const address = request.ip
      if (hub.size >= config.maxConnections || registry.size >= limits.streams) {
        reply.header('retry-after', retryAfterSeconds)
        throw new TooManyStreamsError(Math.min(config.maxConnections, limits.streams))
      }
      const isolated = store.isolated()
      if (isolated !== undefined) {
        reply.header('retry-after', retryAfterSeconds)
        throw new CutOffError(isolated)
      }
      if (hub.connectionsFrom(address) >= config.maxStreamsPerAddress) {
        reply.header('retry-after', retryAfterSeconds)
        throw new TooManyStreamsFromAddressError(config.maxStreamsPerAddress)
      }
      if (!appNames.admit(appName)) {
        reply.header('retry-after', retryAfterSeconds)
        throw new TooManyAppsError(appNames.limit)
      }
      const current = store.current(appName)
      const running = request.query.version
      let firstBytes = jitteredRetry(config.retryMs)
      // Nothing to say to a page that runs the current version, or to a reconnecting browser
      // that already saw the current deploy. The rest learn of it, and whether their own
      // version is an earlier deploy (then they are behind, in deploy order, whatever the names).
      if (current && current.version !== running && current.id !== request.headers['last-event-id']) {
        const known = running === undefined || store.history(appName).some((deploy) => deploy.version === running)
        firstBytes = Buffer.concat([firstBytes, versionFrame(current, known)])
      }
      openEventStream(request, reply, (socket) =>
        holdStream({ hub, pageCounts }, socket, { app: appName, address, firstBytes, pages, tabs }),
      )
    },
  )
}

interface NewStream {
  app: string
  address: string
  firstBytes: Buffer
  pages: ReadonlyMap<string, number>
  tabs: string | undefined
}

/**
 * Adds a stream to the hub and counts its pages once it is held; they are uncounted when the
 * registry forgets it. A function of its own, so what a stream keeps (its close callback) holds
 * nothing of the request's handler.
 */
function holdStream(
  { hub, pageCounts }: { hub: Hub; pageCounts: PageCounts },
  socket: Socket,
  { app, address, firstBytes, pages, tabs }: NewStream,
): boolean {
  let leave = (): void => {}
  const held = hub.add(app, socket, address, firstBytes, () => leave())
  if (held) leave = pageCounts.open(app, pages, { tabs, address })
  return held
}
