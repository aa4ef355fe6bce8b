import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { Deploy } from '../contract/deploy.js'
import { getJson, notify, until } from './helpers/http.js'
import type { SidecarProcess } from './helpers/process.js'
import { skipWithoutRedis, type RedisServer } from './helpers/redis.js'
import { addresses, RedisCluster, SENTINEL_NAME, SentinelSet } from './helpers/redis-topology.js'
import { health, Replicas, type WatchedStream } from './helpers/replicas.js'

// Failover as teams meet it: the Redis master dies under a steady loop of notifies while pages
// hold streams on two replicas. Sentinel promotes the replica, or the Cluster does; the sidecar
// must follow by itself and keep every promise it made: a 202 is stored and delivered, a notify
// is answered in time, ids never go back, /healthz tells the truth meanwhile.
const skip = skipWithoutRedis('test/redis-failover.test.ts')

/** The slot of every deploy-notify key in a Cluster (the hash tag {deploy-notify}). */
const SLOT = 13813
/** No notify may take longer than this, whatever Redis does (a hung one is answered 503 sooner). */
const ANSWER_BOUND_MS = 5000
/** Notifies keep coming this often, one at a time, to the replicas in turn. */
const PACE_MS = 100
const PASSWORD = 'failover-test-password'
/**
 * Above the failover's few seconds: a replica whose counts cannot reach Redis for 2 s plus this
 * lets go of its streams (a long outage, see redis-faults.test.ts), and this test is about the
 * streams that stay open through a failover.
 */
const COMMAND_TIMEOUT = { REDIS_COMMAND_TIMEOUT_MS: '10000' }

interface Attempt {
  version: string
  replica: number
  status: number
  id?: string
  startedAt: number
  endedAt: number
}

/** What each replica's /healthz answered, sampled along the loop. */
type HealthLog = { at: number; status: number }[][]

/**
 * Notifies v1, v2... at a steady pace until `done()` says so (bounded), calling `fault()` once
 * after `before` acknowledged deploys, while every replica's /healthz is sampled.
 */
async function notifyThroughFault(
  replicas: SidecarProcess[],
  app: string,
  {
    before,
    fault,
    done,
    boundMs,
  }: { before: number; fault: () => Promise<void>; done: (attempts: Attempt[]) => Promise<boolean>; boundMs: number },
): Promise<{ attempts: Attempt[]; faultAt: number; healthLog: HealthLog }> {
  const attempts: Attempt[] = []
  const healthLog: HealthLog = replicas.map(() => [])
  let sampling = true
  const sampler = (async () => {
    while (sampling) {
      await Promise.all(
        replicas.map(async (replica, i) => healthLog[i]!.push({ at: Date.now(), status: await health(replica) })),
      )
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  })()
  let faultAt = 0
  const deadline = Date.now() + boundMs
  try {
    for (let n = 1; ; n++) {
      if (Date.now() > deadline)
        throw new Error(`the loop did not settle within ${boundMs} ms: ${JSON.stringify(attempts)}`)
      if (!faultAt && attempts.filter((a) => a.status === 202).length >= before) {
        await fault()
        faultAt = Date.now()
      }
      const replica = n % replicas.length
      const startedAt = Date.now()
      const answer = await notify(replicas[replica]!.url, { app, version: `v${n}` })
      attempts.push({
        version: `v${n}`,
        replica,
        status: answer.status,
        id: answer.status === 202 ? String(answer.json.id) : undefined,
        startedAt,
        endedAt: Date.now(),
      })
      if (faultAt && (await done(attempts))) break
      await new Promise((resolve) => setTimeout(resolve, PACE_MS))
    }
  } finally {
    sampling = false
    await sampler
  }
  return { attempts, faultAt, healthLog }
}

/** The promises of a failover, checked against what was acknowledged, stored and delivered. */
async function expectPromisesKept(
  { attempts, faultAt, healthLog }: Awaited<ReturnType<typeof notifyThroughFault>>,
  stored: Deploy[],
  { replicas, app, pages }: { replicas: SidecarProcess[]; app: string; pages: WatchedStream[] },
): Promise<void> {
  const acked = attempts.filter((a) => a.status === 202)
  const refused = attempts.filter((a) => a.status !== 202)
  // Every notify was answered, 202 or 503, in time.
  expect(new Set(attempts.map((a) => a.status))).toEqual(new Set([202, 503]))
  for (const a of attempts) expect(a.endedAt - a.startedAt, a.version).toBeLessThan(ANSWER_BOUND_MS)
  // Ids never go back: each 202 of this one-at-a-time loop has a higher id than the one before.
  const ids = acked.map((a) => Number(a.id))
  expect(ids).toEqual([...ids].sort((x, y) => x - y))
  expect(new Set(ids).size).toBe(ids.length)

  // Every 202 is in the state after the failover, under its id.
  const byId = new Map(stored.map((deploy) => [deploy.id, deploy.version]))
  for (const a of acked) expect(byId.get(a.id!), `${a.version} (id ${a.id}) in the stored history`).toBe(a.version)
  expect(stored[0]?.version).toBe(acked.at(-1)?.version)
  // A refused notify is stored only if the master died with its write in flight: its answer was lost.
  for (const deploy of stored) {
    const attempt = refused.find((a) => a.version === deploy.version)
    if (attempt) expect(attempt.startedAt <= faultAt && attempt.endedAt >= faultAt, deploy.version).toBe(true)
  }

  // Every page got every 202, once, in id order, with no reconnect: the subscriptions came back by themselves.
  const last = acked.at(-1)!
  for (const [i, page] of pages.entries()) {
    await until(
      () => page.received.some((e) => e.data.version === last.version),
      `page ${i} to get ${last.version}`,
      10_000,
    )
    const received = page.received.filter((e) => e.type === 'deploy')
    const receivedIds = received.map((e) => Number(e.data.id))
    expect(receivedIds, `page ${i}`).toEqual([...new Set(receivedIds)].sort((x, y) => x - y))
    for (const a of acked) {
      expect(received.find((e) => e.data.id === a.id)?.data.version, `${a.version} on page ${i}`).toBe(a.version)
    }
    expect(page.errors, `page ${i} reconnected`).toEqual([])
  }

  // The replicas count each other's pages again, in every mode.
  for (const replica of replicas) {
    await until(
      async () => (await pagesOn(replica, app)) === pages.length,
      `${replica.url}/status to count every page`,
      10_000,
    )
  }

  // /healthz: 503 while the replica could not store, 200 again once it could, with no restart.
  for (const [i, log] of healthLog.entries()) {
    const after = log.filter((s) => s.at >= faultAt)
    expect(
      after.some((s) => s.status === 503),
      `replica ${i} reported the outage`,
    ).toBe(true)
    expect(after.at(-1)?.status, `replica ${i} is healthy again`).toBe(200)
  }
}

/** The open pages of `app` that a replica's /status counts over every replica. */
async function pagesOn(replica: SidecarProcess, app: string): Promise<number | undefined> {
  const apps = (await getJson(`${replica.url}/status`)).json.apps as Record<string, { pages: { total: number } }>
  return apps[app]?.pages.total
}

/** How long notifies were refused (from the first 503 to the first 202 after it), and the slowest answer. */
function summary(attempts: Attempt[]): string {
  const first = attempts.findIndex((a) => a.status === 503)
  const back = attempts.findIndex((a, i) => i > first && a.status === 202)
  const refused = first < 0 || back < 0 ? 0 : attempts[back]!.endedAt - attempts[first]!.startedAt
  const slowest = Math.max(...attempts.map((a) => a.endedAt - a.startedAt))
  return `notifies refused for ${refused} ms (${attempts.filter((a) => a.status === 503).length} answered 503), slowest answer ${slowest} ms`
}

/** Until `n` notifies in a row were acknowledged after the fault. */
const acknowledgedInARow = (n: number) => async (attempts: Attempt[]) =>
  attempts.length >= n && attempts.slice(-n).every((a) => a.status === 202)

describe.skipIf(skip)('failover of the Redis master', () => {
  let scratch: string
  let replicas: Replicas
  let sentinels: SentinelSet | undefined
  let cluster: RedisCluster | undefined

  beforeEach(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'deploy-notify-failover-'))
    replicas = new Replicas(scratch)
  })
  afterEach(async () => {
    await replicas?.stop()
    await sentinels?.remove()
    await cluster?.remove()
    sentinels = cluster = undefined
    await rm(scratch, { recursive: true, force: true })
  })

  it('follows Sentinel to the promoted replica, keeping every acknowledged deploy and every page', async () => {
    sentinels = await SentinelSet.start(PASSWORD)
    const set = sentinels
    const env = {
      REDIS_SENTINELS: addresses(set.sentinels),
      REDIS_SENTINEL_NAME: SENTINEL_NAME,
      ...COMMAND_TIMEOUT,
      // The data nodes' password; the host is not used.
      REDIS_URL: `redis://:${PASSWORD}@${SENTINEL_NAME}`,
    }
    const all = await Promise.all([0, 1].map(() => replicas.start(env)))
    const pages = await Promise.all(
      all.flatMap((r) => [replicas.open(r.url, 'ha', 'v0'), replicas.open(r.url, 'ha', 'v0')]),
    )

    const oldMaster = set.master
    const run = await notifyThroughFault(all, 'ha', {
      before: 4,
      fault: () => oldMaster.kill(),
      // Sentinel has promoted the replica and both sidecars store through it again.
      done: async (attempts) =>
        (await set.masterPort()) === set.replica.port && (await acknowledgedInARow(4)(attempts)),
      boundMs: 40_000,
    })
    const history = (await set.replica.command('LRANGE', 'deploy-notify:history:ha', 0, -1)) as string[]
    await expectPromisesKept(
      run,
      history.map((item) => JSON.parse(item) as Deploy),
      { replicas: all, app: 'ha', pages },
    )
    console.info(`Sentinel failover: ${summary(run.attempts)}`)
  }, 60_000)

  it('follows a Cluster whose master of the slot is killed to its promoted replica, over sharded pub/sub', async () => {
    cluster = await RedisCluster.start()
    const nodes = cluster
    const all = await Promise.all(
      [0, 1].map(() => replicas.start({ REDIS_CLUSTER_NODES: addresses(nodes.nodes), ...COMMAND_TIMEOUT })),
    )
    const pages = await Promise.all(
      all.flatMap((r) => [replicas.open(r.url, 'ha', 'v0'), replicas.open(r.url, 'ha', 'v0')]),
    )

    const master: RedisServer = await nodes.masterOf(SLOT)
    // Each sidecar listens on the shard channel, on the master of its slot.
    expect(await master.command('PUBSUB', 'SHARDNUMSUB', '{deploy-notify}:deploys')).toEqual([
      '{deploy-notify}:deploys',
      2,
    ])
    const run = await notifyThroughFault(all, 'ha', {
      before: 4,
      fault: () => master.kill(),
      done: async (attempts) => (await nodes.masterOf(SLOT)) !== master && (await acknowledgedInARow(4)(attempts)),
      boundMs: 40_000,
    })
    const promoted = await nodes.masterOf(SLOT)
    const history = (await promoted.command('LRANGE', '{deploy-notify}:history:ha', 0, -1)) as string[]
    await expectPromisesKept(
      run,
      history.map((item) => JSON.parse(item) as Deploy),
      { replicas: all, app: 'ha', pages },
    )
    expect(await promoted.command('PUBSUB', 'SHARDNUMSUB', '{deploy-notify}:deploys')).toEqual([
      '{deploy-notify}:deploys',
      2,
    ])
    console.info(`Cluster failover: ${summary(run.attempts)}`)
  }, 60_000)
})
