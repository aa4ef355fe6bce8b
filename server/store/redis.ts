import { Redis } from 'ioredis'
import type { Deploy, DeployRequest } from '../../contract/deploy.js'
import { decide, HISTORY_LENGTH, StoreError, withDeploy, type PublishOutcome, type Store } from './store.js'

const PREFIX = 'deploy-notify:'
const CHANNEL = `${PREFIX}deploys`
const APPS = `${PREFIX}apps`
const stateKey = (app: string) => `${PREFIX}state:${app}`
const historyKey = (app: string) => `${PREFIX}history:${app}`
/** Attempts at a publish that lost a race with another replica's, before giving up. */
const MAX_ATTEMPTS = 10

/**
 * Makes a deploy current only if the app's state is still the one it was decided against
 * (a compare-and-set), and publishes it in the same step, so two replicas taking the same
 * notify at the same moment store and broadcast it once.
 */
const COMPARE_AND_PUBLISH = `
if (redis.call('GET', KEYS[1]) or '') ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('LPUSH', KEYS[2], ARGV[2])
redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[3]) - 1)
redis.call('SADD', KEYS[3], ARGV[4])
redis.call('PUBLISH', ARGV[5], ARGV[2])
return 1`

/**
 * The store for replicas: the current deploy and history per app live in Redis, and every
 * change is published on one channel that each replica subscribes to and broadcasts to its
 * own streams. Pub/sub rather than a stream: only the latest deploy matters, and a replica
 * that was cut off re-reads every app's state when it is back and broadcasts what changed.
 * Reads are served from a mirror in memory, kept by that subscription.
 */
export async function openRedisStore(
  url: string,
  log: { info(msg: string): void; warn(msg: string): void },
): Promise<Store> {
  // No offline queue: while Redis is away a notify fails at once (503) instead of waiting.
  // ioredis reconnects by itself, backing off to one attempt every 2 s.
  const options = { maxRetriesPerRequest: 1, retryStrategy: (times: number) => Math.min(times * 200, 2000) }
  const redis = new Redis(url, { ...options, enableOfflineQueue: false })
  // The subscriber may queue its SUBSCRIBE until it is connected.
  const subscriber = new Redis(url, { ...options, connectionName: `deploy-notify-subscriber-${process.pid}` })
  const current = new Map<string, Deploy>()
  const histories = new Map<string, Deploy[]>()
  const listeners: ((deploy: Deploy) => void)[] = []

  /**
   * Takes a deploy into the mirror and tells the listeners, unless it is not newer than what the
   * mirror has: a resync read may cross a published message. Ids increase per app; a later
   * time also counts, since a Redis that lost its data starts the ids again.
   */
  const accept = (deploy: Deploy, history?: Deploy[]) => {
    const known = current.get(deploy.app)
    if (known && Number(deploy.id) <= Number(known.id) && deploy.time <= known.time) return
    current.set(deploy.app, deploy)
    histories.set(deploy.app, history ?? withDeploy(histories.get(deploy.app) ?? [], deploy))
    for (const listener of listeners) listener(deploy)
  }

  /** Reads every app's state: at start, and after a cut-off in which changes may have been missed. */
  const resync = async () => {
    const apps = await redis.smembers(APPS)
    for (const app of apps) {
      const [state, history] = await Promise.all([
        redis.get(stateKey(app)),
        redis.lrange(historyKey(app), 0, HISTORY_LENGTH - 1),
      ])
      if (state)
        accept(
          JSON.parse(state) as Deploy,
          history.map((item) => JSON.parse(item) as Deploy),
        )
    }
  }

  subscriber.on('message', (_channel: string, message: string) => accept(JSON.parse(message) as Deploy))

  // A clear message and a retry loop, not a crash loop, while Redis is down at start; one
  // line per outage after that.
  let started = false
  let failures = 0
  let lost = false
  for (const client of [redis, subscriber]) {
    client.on('error', (error: Error) => {
      // Both clients fail alike while Redis is down; one line per attempt is enough.
      if (!started && client === redis)
        log.warn(`waiting for Redis at ${redactedUrl(url)} (attempt ${++failures}): ${error.message}`)
      else if (started && !lost)
        log.warn(
          `lost Redis at ${redactedUrl(url)} (${error.message}); notifies fail until it is back, streams stay open`,
        )
      if (started) lost = true
    })
  }
  /**
   * Subscriber reconnects whose gap no re-read has covered yet. The two connections come back
   * in either order, and a re-read needs the command connection: it is tried when the
   * subscriber is back, and again each time the command connection is, until one succeeds.
   */
  let gaps = 0
  let rereading = false
  const reread = () => {
    if (gaps === 0 || rereading || redis.status !== 'ready') return
    const covered = gaps
    rereading = true
    resync().then(
      () => {
        gaps -= covered
        rereading = false
        reread() // the subscriber dropped again during this one
      },
      (error: Error) => {
        rereading = false
        log.warn(`cannot re-read the deploys from Redis (${error.message}); trying again when it is back`)
      },
    )
  }
  subscriber.on('ready', () => {
    if (!started) return
    lost = false
    gaps++
    log.info('Redis is back; re-reading the current deploys')
    reread()
  })
  redis.on('ready', () => reread())
  await Promise.all(
    [redis, subscriber].map(
      (client) =>
        new Promise((resolve) => (client.status === 'ready' ? resolve(undefined) : client.once('ready', resolve))),
    ),
  )
  await subscriber.subscribe(CHANNEL)
  await resync()
  started = true

  async function publishOnce(request: DeployRequest): Promise<PublishOutcome | undefined> {
    const state = await redis.get(stateKey(request.app))
    const outcome = decide(state ? (JSON.parse(state) as Deploy) : undefined, request, new Date())
    if (outcome.kind !== 'changed') return outcome
    const json = JSON.stringify(outcome.deploy)
    const keys = [stateKey(request.app), historyKey(request.app), APPS]
    const stored = await redis.eval(
      COMPARE_AND_PUBLISH,
      keys.length,
      ...keys,
      state ?? '',
      json,
      HISTORY_LENGTH,
      request.app,
      CHANNEL,
    )
    if (stored !== 1) return undefined
    // Current here at once (a /version right after the 202 agrees); its own message, when it
    // comes back through the subscription, is then not newer and changes nothing.
    accept(outcome.deploy)
    return outcome
  }

  return {
    current: (app) => current.get(app),
    all: () => [...current.values()],
    history: (app) => histories.get(app) ?? [],
    async publish(request) {
      try {
        for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
          const outcome = await publishOnce(request)
          if (outcome) return outcome
        }
      } catch (error) {
        throw new StoreError(`Redis: ${(error as Error).message}`, { cause: error })
      }
      throw new StoreError(`Redis: app "${request.app}" changed ${MAX_ATTEMPTS} times during this notify; retry`)
    },
    onChange(listener) {
      listeners.push(listener)
    },
    connected: () => redis.status === 'ready' && subscriber.status === 'ready',
    async close() {
      redis.disconnect()
      subscriber.disconnect()
    },
  }
}

/** The URL without its password, for logs. */
function redactedUrl(url: string): string {
  const parsed = new URL(url)
  if (parsed.password) parsed.password = '***'
  return parsed.href
}
