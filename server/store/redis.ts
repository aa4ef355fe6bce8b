import type { Deploy, DeployRequest } from '../../contract/deploy.js'
import { RedisCertificateError, StoreUnavailableError } from '../errors.js'
import { isCertificateError, openRedisConnection, type RedisClient, type RedisSettings } from './redis-connection.js'
import { shareStreamCounts, type CountsTiming } from './redis-counts.js'
import { RedisMirror } from './redis-mirror.js'
import { decide, HISTORY_LENGTH, type PublishOutcome, type SharedCounts, type Store } from './store.js'
import { storedDeploy } from './stored-deploy.js'

/** Attempts at a publish that lost a race with another replica's, before giving up. */
const MAX_ATTEMPTS = 10
/** How often a replica checks that Redis still has the state (and puts it back if not). */
const LOSS_CHECK_MS = 2000
/** At most one line per this long about counts that cannot be shared. */
const COUNTS_LOG_MS = 60_000
/** How often each connection is asked PING, so a hung Redis or link is noticed with no traffic. */
const PING_MS = 1000
const TIMED_OUT = 'Command timed out' // ioredis's message for `commandTimeout`
/** The most a write waits for a Redis replica to confirm it (Sentinel, Cluster), before it is answered anyway. */
const MAX_REPLICA_WAIT_MS = 500

export interface StoreLog {
  info(msg: string): void
  warn(msg: string): void
}

/**
 * The store for replicas: the current deploy and history per app live in Redis, and every
 * change is published on one channel that each replica subscribes to and broadcasts to its
 * own streams. Pub/sub rather than a stream: only the latest deploy matters, and a replica
 * that was cut off re-reads every app's state when it is back and broadcasts what changed.
 * Reads are served from a mirror in memory, kept by that subscription (`redis-mirror.ts`).
 */
export async function openRedisStore(settings: RedisSettings, log: StoreLog, timing: CountsTiming): Promise<Store> {
  // Made for the mode the settings name, with a command timeout, no offline queue (while Redis
  // is away a notify fails at once) and reconnection by itself (`redis-connection.ts`).
  const connection = openRedisConnection(settings)
  const { command: redis, subscriber, where } = connection

  // A clear message and a retry loop, not a crash loop, while Redis is down at start; one
  // line per outage after that. A certificate that does not verify stops the start instead.
  let started = false
  let failures = 0
  let lost = false
  let countsLogged = 0
  let sharing: (SharedCounts & { isolated(): string | undefined }) | undefined
  let refuseStart: (error: Error) => void = () => {}
  const startRefused = new Promise<never>((_, reject) => (refuseStart = reject))
  for (const client of [redis, subscriber]) {
    client.on('error', (error: Error) => {
      if (!started && isCertificateError(error)) {
        // ioredis hears one error per socket; the server's TLS alert that follows a refused
        // certificate would otherwise be thrown as an unhandled error after the one-line exit.
        if ('stream' in client) client.stream?.on('error', () => {})
        const why = `does not verify against ${connection.trust}: ${error.message}`
        refuseStart(new RedisCertificateError(`the certificate of Redis (${where}) ${why}`))
      }
      // Both clients fail alike while Redis is down; one line per attempt is enough.
      else if (!started && client === redis)
        log.warn(`waiting for Redis at ${where} (attempt ${++failures}): ${error.message}`)
      else if (started && !lost)
        log.warn(
          `lost Redis at ${where} (${error.message}); notifies fail until it is back, and streams end if it stays away`,
        )
      if (started) lost = true
    })
  }
  const ready = new Promise((resolve) => redis.once('ready', resolve))
  const keys = await Promise.race([ready.then(() => connection.subscribe()), startRefused]).catch((error: Error) => {
    redis.disconnect()
    subscriber.disconnect()
    throw error
  })
  // A message the mirror could not check against the store is a gap, like a lost subscription.
  const mirror = new RedisMirror(redis, keys, log, () => {
    gaps++
    reread()
  })
  // A message that came before this is covered by the first re-read below.
  connection.onMessage((message) => mirror.take(message))

  /**
   * A connection whose PING goes unanswered for the command timeout is given up and opened
   * again: until the new one is ready (Redis answers), /healthz is 503, notifies fail at once,
   * and a re-read follows, as after any lost connection.
   */
  const watch = setInterval(() => {
    for (const client of [redis, subscriber]) {
      if (client.status !== 'ready') continue
      client.ping().catch((error: Error) => {
        if (error.message !== TIMED_OUT || client.status !== 'ready') return
        client.emit('error', new Error(`no answer within ${timing.commandTimeoutMs} ms (Redis or the link is hung)`))
        client.disconnect(true)
      })
    }
  }, PING_MS).unref()
  /**
   * Subscriber reconnects whose gap no re-read has covered yet. The two connections come back
   * in either order, and a re-read needs the command connection: it is tried when the
   * subscriber is back, and again each time the command connection is, until one succeeds.
   * A Redis that came back empty (no persistence) gets the state back from the mirror.
   */
  let gaps = 0
  let rereading = false
  const reread = () => {
    if (gaps === 0 || rereading || redis.status !== 'ready') return
    const covered = gaps
    rereading = true
    mirror
      .resync()
      .then(() => mirror.restoreIfLost())
      .then(
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
  // Deaf from a drop of the subscriber until its channel is confirmed again (a re-read follows).
  let deaf = false
  subscriber.on('close', () => (deaf = true))
  subscriber.on('ready', () => {
    if (!started) return
    if (redis.status === 'ready') lost = false
    connection.subscribe().then(
      () => {
        deaf = false
        gaps++
        log.info('Redis is back; re-reading the current deploys')
        reread()
      },
      (error: Error) => log.warn(`cannot subscribe to the deploys again (${error.message}); trying when Redis is back`),
    )
  })
  redis.on('ready', () => {
    // The outage is over once both connections are back, in either order.
    if (started && subscriber.status === 'ready') lost = false
    reread()
  })
  await mirror.resync()
  started = true
  // A FLUSHALL drops no connection, so the re-read above never sees it: check now and then.
  const lossCheck = setInterval(() => {
    if (redis.status === 'ready') mirror.restoreIfLost().catch(() => undefined) // reported by 'error'
  }, LOSS_CHECK_MS).unref()

  async function publishOnce(request: DeployRequest): Promise<PublishOutcome | undefined> {
    const [time, state] = await readWithTime(redis, keys.state(request.app))
    const stored = state === null ? undefined : storedDeploy(safeParse(state))
    // Redis may have lost the app (no persistence, FLUSHALL) or hold garbage under its key:
    // this replica's copy then decides the next id, so ids go on instead of starting again.
    const known = mirror.current.get(request.app)
    const current = stored === undefined || typeof stored === 'string' ? known : stored
    const basis = known && current && Number(known.id) > Number(current.id) ? known : current
    const outcome = decide(basis, request, new Date())
    if (outcome.kind !== 'changed') return outcome
    const json = JSON.stringify(outcome.deploy)
    const names = [keys.state(request.app), keys.history(request.app), keys.apps]
    // In Redis's clock, read with the state: no two hosts' clocks are compared. The script must
    // run early enough for its answer to arrive before this replica gives up and answers 503.
    const margin = Math.min(1000, timing.commandTimeoutMs / 4)
    const deadline = time + timing.commandTimeoutMs - margin
    const args = [state ?? '', json, HISTORY_LENGTH, request.app, keys.channel, '0', deadline]
    const step = redis.pipeline().eval(keys.compareAndPublish, names.length, ...names, ...args)
    // Replication is asynchronous: a master killed right after a write may take it along. A
    // replica that has it is the one Sentinel or the Cluster promotes (the most up to date).
    // In the pipeline, so a Cluster sends the WAIT to the node that ran the script; within
    // half the margin, so its answer too comes before the command timeout.
    const waitMs = Math.min(MAX_REPLICA_WAIT_MS, Math.floor(margin / 2))
    if (connection.replicated) step.call('WAIT', 1, waitMs)
    const [[failed, done], confirmed] = (await step.exec()) as [Error | null, unknown][] & [[Error | null, unknown]]
    if (failed) throw failed
    if (done === -1) throw new Error('Redis ran the notify after its deadline (it was hung) and stored nothing')
    if (done !== 1) return undefined
    // Decided against a deploy this replica never heard of (it could not hear meanwhile): the
    // ones it missed go to its streams first, in order, before its own. It is stored either way:
    // if Redis is gone again, the re-read when it is back tells them.
    if (typeof stored === 'object' && Number(stored.id) > Number(known?.id ?? 0)) {
      await mirror.catchUp(request.app).catch(() => undefined)
    }
    if (confirmed && confirmed[1] === 0) {
      log.warn(
        `deploy ${outcome.deploy.id} of app "${request.app}" is on the Redis master only: no replica confirmed it ` +
          `within ${waitMs} ms, so a failover now would lose it`,
      )
    }
    // Current here at once (a /version right after the 202 agrees); its own message, when it
    // comes back through the subscription, is then not newer and changes nothing.
    await mirror.acceptStored(outcome.deploy)
    return outcome
  }

  return {
    current: (app) => mirror.current.get(app),
    all: () => [...mirror.current.values()],
    history: (app) => mirror.histories.get(app) ?? [],
    async publish(request) {
      try {
        for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
          const outcome = await publishOnce(request)
          if (outcome) return outcome
        }
      } catch (error) {
        throw new StoreUnavailableError(`Redis: ${(error as Error).message}`, { cause: error })
      }
      throw new StoreUnavailableError(
        `Redis: app "${request.app}" changed ${MAX_ATTEMPTS} times during this notify; retry`,
      )
    },
    onChange(listener: (deploy: Deploy) => void) {
      mirror.listeners.push(listener)
    },
    problem: () =>
      redis.status !== 'ready' || subscriber.status !== 'ready' || deaf
        ? `Redis (${where}) is not connected`
        : gaps > 0
          ? `Redis (${where}) is back; re-reading the deploys that may have been missed`
          : undefined,
    isolated: () => sharing?.isolated(),
    get rejected() {
      return mirror.rejected
    },
    streamCounts: (local) =>
      (sharing = shareStreamCounts(redis, keys, local, timing, (error) => {
        // A lost connection is reported once above; anything else (a key of the wrong type) here.
        if (redis.status === 'ready' && Date.now() - countsLogged >= COUNTS_LOG_MS) {
          countsLogged = Date.now()
          log.warn(`cannot share stream counts through Redis (${error.message}); /status marks its counts incomplete`)
        }
      })),
    async close() {
      clearInterval(lossCheck)
      clearInterval(watch)
      redis.disconnect()
      subscriber.disconnect()
    },
  }
}

/** Redis's clock in ms, and a key's value, in one round trip. */
async function readWithTime(redis: RedisClient, key: string): Promise<[number, string | null]> {
  const results = (await redis.pipeline().time().get(key).exec()) ?? []
  for (const [error] of results) if (error) throw error
  const [seconds, micros] = results[0]![1] as [string, string]
  return [Number(seconds) * 1000 + Math.floor(Number(micros) / 1000), results[1]![1] as string | null]
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}
