import { existsSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { AppStatus, Status } from '../server/status.js'
import { getJson, metric, notify, until } from './helpers/http.js'
import { findNginx, startNginx, type RunningNginx } from './helpers/nginx.js'
import { openRawStreams } from './helpers/raw-streams.js'
import { startRedis, skipWithoutRedis, type RedisServer } from './helpers/redis.js'
import { deploysOf, Replicas } from './helpers/replicas.js'

// Replicas as production runs them: separate `deploy-notify serve` processes sharing a real
// Redis of the test's own. CI's notify reaches one of them; the browsers are on all of them.
const skip = skipWithoutRedis('test/replicas.test.ts')

/** The app's entry of a replica's /status. */
const pagesSeenBy = async (replica: { url: string }, app = 'counted'): Promise<AppStatus | undefined> =>
  ((await getJson(`${replica.url}/status`)).json as unknown as Status).apps[app]

describe.skipIf(skip)('replicas sharing one Redis', () => {
  let redis: RedisServer
  let replicas: Replicas

  beforeEach(async () => {
    redis = await startRedis()
    replicas = new Replicas(redis.dir)
  })
  afterEach(async () => {
    await replicas?.stop()
    await redis?.remove()
  })

  it('delivers a notify taken by one replica to the streams on all three, once each', async () => {
    const all = await Promise.all([replicas.start(redis.url), replicas.start(redis.url), replicas.start(redis.url)])
    const streams = await Promise.all(all.map((replica) => replicas.open(replica.url, 'web', 'v0')))

    const answer = await notify(all[0].url, { app: 'web', version: 'v1', message: 'everywhere' })
    expect(answer.status).toBe(202)
    expect(answer.json).toMatchObject({ app: 'web', version: 'v1', id: '1', delivered: 1 })
    for (const stream of streams) {
      const event = await stream.next('deploy', 'v1')
      expect(event.data).toMatchObject({ app: 'web', version: 'v1', id: '1', message: 'everywhere' })
      expect(event.lastEventId).toBe('1')
    }

    // A later deploy through another replica closes the sequence: a second copy of v1, from any
    // path, would have arrived before it on the same stream.
    expect((await notify(all[2].url, { app: 'web', version: 'v2' })).status).toBe(202)
    for (const stream of streams) {
      await stream.next('deploy', 'v2')
      expect(deploysOf(stream)).toEqual(['v1', 'v2'])
      expect(stream.errors).toEqual([])
    }
    // Each replica broadcast both and timed the fan-out from the accepting replica's clock.
    for (const replica of all) {
      expect(await metric(replica.url, 'deploy_notify_deploys_total{app="web"}')).toBe(2)
      expect(await metric(replica.url, 'deploy_notify_fanout_lag_seconds_count')).toBe(2)
    }
  })

  it('serves the current version and history from a replica started after the deploys', async () => {
    const early = await replicas.start(redis.url)
    expect((await notify(early.url, { app: 'late', version: 'v1' })).status).toBe(202)
    expect((await notify(early.url, { app: 'late', version: 'v2', message: 'second' })).status).toBe(202)

    const late = await replicas.start(redis.url)
    const version = await getJson(`${late.url}/version?app=late`)
    expect(version.status).toBe(200)
    expect(version.json).toMatchObject({ app: 'late', version: 'v2', id: '2', message: 'second' })

    const stream = await replicas.open(late.url, 'late', 'v1')
    const event = await stream.next('version', 'v2')
    expect(event.data).toMatchObject({ version: 'v2', id: '2' })
    expect(event.lastEventId).toBe('2')

    const status = await getJson(`${late.url}/status`)
    const apps = status.json.apps as Record<string, { history: { version: string }[] }>
    expect(apps.late?.history.map((deploy) => deploy.version)).toEqual(['v2', 'v1'])
    // With REDIS_URL the file store is never opened: DATA_DIR stays untouched.
    expect(existsSync(replicas.dataDir)).toBe(false)
  })

  it('stores and broadcasts once the same version sent to two replicas at the same moment', async () => {
    const [a, b] = await Promise.all([replicas.start(redis.url), replicas.start(redis.url)])
    const streams = await Promise.all([replicas.open(a.url, 'same'), replicas.open(b.url, 'same')])

    // Redis holds back writes, scripts included, while reads go on: both replicas read the same
    // state and decide "changed" before either compare-and-set runs. The race is then certain,
    // not a matter of timing.
    const [getsBefore, evalsBefore] = [await redis.calls('get'), await redis.calls('eval')]
    await redis.command('CLIENT', 'PAUSE', 5000, 'WRITE')
    const answers = Promise.all([
      notify(a.url, { app: 'same', version: 'v1' }),
      notify(b.url, { app: 'same', version: 'v1' }),
    ])
    try {
      await until(async () => (await redis.calls('get')) >= getsBefore + 2, 'both replicas to read the state')
    } finally {
      await redis.command('CLIENT', 'UNPAUSE')
    }
    const [first, second] = await answers

    expect([first.status, second.status].sort()).toEqual([200, 202])
    const unchanged = first.status === 200 ? first : second
    expect(unchanged.json).toMatchObject({ app: 'same', version: 'v1', id: '1', unchanged: true })
    expect((first.status === 202 ? first : second).json).toMatchObject({ version: 'v1', id: '1' })
    // Both scripts ran; the second found the state changed under it, read again and saw v1.
    expect(await redis.calls('eval')).toBe(evalsBefore + 2)

    expect((await notify(b.url, { app: 'same', version: 'v2' })).status).toBe(202)
    for (const stream of streams) {
      await stream.next('deploy', 'v2')
      expect(deploysOf(stream)).toEqual(['v1', 'v2'])
      expect(stream.received.map((event) => event.lastEventId)).toEqual(['1', '2'])
    }
  })

  it('numbers deploys one by one per app across replicas, even when they race', async () => {
    const all = await Promise.all([replicas.start(redis.url), replicas.start(redis.url), replicas.start(redis.url)])
    const stream = await replicas.open(all[1].url, 'ids')

    for (let i = 1; i <= 3; i++) {
      const answer = await notify(all[i % 3]!.url, { app: 'ids', version: `v${i}` })
      expect(answer.json).toMatchObject({ version: `v${i}`, id: String(i) })
    }
    // Six different versions at once, two per replica: every one is a change and gets its own id.
    const racing = await Promise.all(
      [4, 5, 6, 7, 8, 9].map((i) => notify(all[i % 3]!.url, { app: 'ids', version: `v${i}` })),
    )
    expect(racing.map((answer) => answer.status)).toEqual([202, 202, 202, 202, 202, 202])
    expect(racing.map((answer) => Number(answer.json.id)).sort((x, y) => x - y)).toEqual([4, 5, 6, 7, 8, 9])
    // Another app counts on its own.
    expect((await notify(all[0].url, { app: 'ids-other', version: 'v1' })).json.id).toBe('1')

    // The stream gets them in id order, each id with the version that answer named.
    await until(() => deploysOf(stream).length === 9, 'nine deploys on the stream')
    const byId = new Map(racing.map((answer) => [String(answer.json.id), answer.json.version]))
    expect(stream.received.map((event) => event.data.id)).toEqual(['1', '2', '3', '4', '5', '6', '7', '8', '9'])
    for (const event of stream.received.slice(3)) expect(event.data.version).toBe(byId.get(event.data.id))
    expect(stream.received.every((event) => event.lastEventId === event.data.id)).toBe(true)
    expect((await getJson(`${all[2].url}/version?app=ids`)).json.id).toBe('9')
  })

  it("counts every replica's pages in /status; a killed replica's stay, marked incomplete, until they had time to move", async () => {
    const env = { REDIS_COMMAND_TIMEOUT_MS: '1000' }
    const [a, b] = await Promise.all([replicas.start(redis.url, env), replicas.start(redis.url, env)])
    await Promise.all([
      replicas.open(a.url, 'counted', 'v1'),
      replicas.open(a.url, 'counted', 'v1'),
      replicas.open(b.url, 'counted', 'v2'),
    ])
    // Each replica shares its counts every 2 s and sums everyone's.
    for (const replica of [a, b]) {
      await until(
        async () => (await pagesSeenBy(replica))?.pages.total === 3,
        `${replica.url}/status to count all three pages`,
        6000,
      )
      expect(await pagesSeenBy(replica)).toMatchObject({ pages: { versions: { v1: 2, v2: 1 } }, pagesComplete: true })
    }
    // /metrics stays per replica.
    expect(await metric(b.url, 'deploy_notify_connections{app="counted"}')).toBe(1)

    a.child.kill('SIGKILL')
    const killed = Date.now()
    await a.exited
    // B cannot tell a dead replica from one cut off with its pages still open: unknown, not zero.
    await until(async () => (await pagesSeenBy(b))?.pagesComplete === false, 'the counts to be incomplete', 10_000)
    expect(await pagesSeenBy(b)).toMatchObject({
      pages: { total: 3, versions: { v1: 2, v2: 1 } },
      pagesIncomplete: expect.stringMatching(/^replica \S+ stopped reporting \d+ s ago$/) as unknown,
    })
    // Once a cut-off replica would have let go of its pages and they would be counted elsewhere.
    await until(async () => (await pagesSeenBy(b))?.pagesComplete === true, 'the counts to be complete', 25_000)
    expect(Date.now() - killed).toBeGreaterThan(15_000)
    expect((await pagesSeenBy(b))?.pages).toEqual({ total: 1, versions: { v2: 1 } })
  }, 45_000)

  it('keeps the pages of a replica that shut down counted while they reconnect elsewhere', async () => {
    const [a, b] = await Promise.all([replicas.start(redis.url), replicas.start(redis.url)])
    const [pageOnA] = await openRawStreams(a.port, 1, '/events?app=moved&version=v1')
    await until(async () => (await pagesSeenBy(b, 'moved'))?.pages.total === 1, 'B to count the page on A', 6000)

    a.child.kill('SIGTERM')
    expect((await a.exited).code).toBe(0)
    await pageOnA!.ended
    pageOnA!.socket.destroy()
    // Its goodbye keeps its last counts, complete: the page is between replicas, not gone.
    expect(await pagesSeenBy(b, 'moved')).toMatchObject({ pages: { total: 1 }, pagesComplete: true })
    const [pageOnB] = await openRawStreams(b.port, 1, '/events?app=moved&version=v1')
    // Counted once on B, and A's goodbye drops out after the reconnect window.
    await until(async () => (await pagesSeenBy(b, 'moved'))?.pages.total === 2, 'the page on B too', 6000)
    await until(async () => (await pagesSeenBy(b, 'moved'))?.pages.total === 1, "A's goodbye to expire", 15_000)
    expect(await pagesSeenBy(b, 'moved')).toMatchObject({ pagesComplete: true })
    pageOnB!.socket.destroy()
  }, 30_000)

  describe.skipIf(!findNginx() && !process.env.CI)('behind nginx', () => {
    let nginx: RunningNginx | undefined
    let root: string

    beforeEach(async () => {
      root = await mkdtemp(join(tmpdir(), 'deploy-notify-spa-'))
      await writeFile(join(root, 'index.html'), '<!doctype html><title>spa</title>')
    })
    afterEach(async () => {
      await nginx?.stop()
      nginx = undefined
      await rm(root, { recursive: true, force: true })
    })

    it('moves a page whose replica is SIGKILLed to the other replica, missing nothing', async () => {
      const binary = findNginx()
      if (!binary) throw new Error('nginx is required in CI: install it (apt-get install nginx-light) or set NGINX')
      const [a, b] = await Promise.all([replicas.start(redis.url), replicas.start(redis.url)])
      // nginx.conf with its upstream listing both replicas, as README's "Scaling out" shows.
      const upstream = [a, b]
        .map((replica) => `127.0.0.1:${replica.port} max_fails=1 fail_timeout=5s`)
        .join(';\n        server ')
      nginx = await startNginx(binary, { root, upstream })

      expect((await notify(a.url, { app: 'lb', version: 'v1' })).status).toBe(202)
      // A page still on v0, so its stream starts with the current deploy, v1.
      const page = await replicas.open(`${nginx.url}/deploy-notify`, 'lb', 'v0')
      await page.next('version', 'v1')
      const streamsOn = async () =>
        Promise.all([a, b].map((replica) => metric(replica.url, 'deploy_notify_connections{app="lb"}')))
      const counts = await streamsOn()
      expect([...counts].sort()).toEqual([0, 1])
      const [serving, other] = counts[0] === 1 ? [a, b] : [b, a]

      serving.child.kill('SIGKILL')
      expect((await serving.exited).signal).toBe('SIGKILL')
      // CI notifies while the page is between replicas.
      expect((await notify(other.url, { app: 'lb', version: 'v2' })).status).toBe(202)

      // Back through nginx on the survivor: v2 as the `version` event on connect, or as a deploy
      // if the page was already back when it was sent. Either way exactly once.
      await until(() => page.received.some((event) => event.data.version === 'v2'), 'the page to learn v2', 5000)
      await until(
        async () => (await metric(other.url, 'deploy_notify_connections{app="lb"}')) === 1,
        'the page on the survivor',
      )
      expect((await notify(other.url, { app: 'lb', version: 'v3' })).status).toBe(202)
      await page.next('deploy', 'v3')
      expect(page.received.map((event) => event.data.version)).toEqual(['v1', 'v2', 'v3'])
      expect(page.source.readyState).toBe(page.source.OPEN)
      // One reconnect: the one the kill caused.
      expect(page.errors.length).toBeGreaterThanOrEqual(1)
    })
  })
})
