import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { AppStatus, Status } from '../server/status.js'
import { fileTree } from './helpers/file-tree.js'
import { getJson, metric, notify, until } from './helpers/http.js'
import { runCli, type SidecarProcess } from './helpers/process.js'
import { openRawStreams, type RawStream } from './helpers/raw-streams.js'
import { RedisLink } from './helpers/redis-link.js'
import { startRedis, skipWithoutRedis, type RedisServer } from './helpers/redis.js'
import { health, Replicas } from './helpers/replicas.js'
import { deployStampedBuild } from './helpers/stamped-builds.js'

// The promises prune, wait-drained and CI rely on, under the faults that would break them: a
// replica partitioned from Redis (a frozen TCP link), Redis hung (SIGSTOP), a stray PUBLISH.
// Real redis-server, replicas as `deploy-notify serve` processes, real stamped builds.
const skip = skipWithoutRedis('test/redis-faults.test.ts')

/** Commands time out after 1 s here (3 s by default), so the faults show quickly. */
const COMMAND_TIMEOUT_MS = 1000

const appStatus = async (replica: SidecarProcess, app: string): Promise<AppStatus | undefined> =>
  ((await getJson(`${replica.url}/status`)).json as unknown as Status).apps[app]

describe.skipIf(skip)('faults around Redis', () => {
  let redis: RedisServer
  let replicas: Replicas
  let folder: string
  const links: RedisLink[] = []
  const streams: RawStream[] = []

  beforeEach(async () => {
    redis = await startRedis()
    replicas = new Replicas(redis.dir)
    folder = await mkdtemp(join(tmpdir(), 'deploy-notify-faults-'))
  })
  afterEach(async () => {
    for (const stream of streams.splice(0)) stream.socket.destroy()
    await replicas?.stop()
    for (const link of links.splice(0)) await link.close()
    if (redis?.pid) process.kill(redis.pid, 'SIGCONT') // a test that failed while Redis was stopped
    await redis?.remove()
    await rm(folder, { recursive: true, force: true })
  })

  it("keeps the pages of a partitioned replica: prune and wait-drained on another replica wait, and the page's files stay", async () => {
    const link = await RedisLink.open(redis.port)
    links.push(link)
    // Pages reconnect after 3-4.5 s, as by default: the counts stay incomplete that much longer.
    const env = { REDIS_COMMAND_TIMEOUT_MS: String(COMMAND_TIMEOUT_MS), RETRY_MS: '3000' }
    const [a, b] = await Promise.all([replicas.start(redis.url, env), replicas.start(link.url, env)])
    const root = join(folder, 'www')
    await mkdir(root)
    await deployStampedBuild(folder, root, 'v1', { 'assets/app-1.js': 'one', 'assets/lazy-1.js': 'lazy one' })
    expect((await notify(a.url, { app: 'web', version: 'v1' })).status).toBe(202)
    await deployStampedBuild(folder, root, 'v2', { 'assets/app-2.js': 'two' })
    expect((await notify(a.url, { app: 'web', version: 'v2' })).status).toBe(202)
    // A v1 page, on the replica about to be cut off; prune and wait-drained ask the other one.
    const [page] = await openRawStreams(b.port, 1, '/events?app=web&version=v1')
    streams.push(page!)
    await until(async () => (await appStatus(a, 'web'))?.pages.versions.v1 === 1, 'A to count the page on B', 6000)
    expect((await appStatus(a, 'web'))?.pagesComplete).toBe(true)
    const before = await fileTree(root)

    link.freeze()
    // B sees its link hang within the command timeout (plus a PING interval), says so, and
    // refuses a notify within the timeout instead of leaving CI hanging.
    await until(async () => (await health(b)) === 503, 'B to report its hung link', 2 * COMMAND_TIMEOUT_MS + 1500)
    const asked = Date.now()
    const refused = await notify(b.url, { app: 'web', version: 'v3' })
    expect(refused.status).toBe(503)
    expect(refused.json.error).toBe('DN_ERR_STORE_UNAVAILABLE')
    expect(Date.now() - asked).toBeLessThan(COMMAND_TIMEOUT_MS + 1500)
    expect(await health(a)).toBe(200)

    // A no longer hears from B: B's last counts stay, marked incomplete, never taken as zero.
    await until(async () => (await appStatus(a, 'web'))?.pagesComplete === false, 'A to mark the counts', 10_000)
    const seen = await appStatus(a, 'web')
    expect(seen?.pagesIncomplete).toMatch(/^replica \S+ stopped reporting \d+ s ago$/)
    expect(seen?.pages.versions).toMatchObject({ v1: 1 })
    const pruned = await runCli(['prune', '--dir', root, '--url', a.url, '--app', 'web'])
    expect(pruned.code, pruned.stdout + pruned.stderr).toBe(1)
    expect(pruned.stderr).toMatch(
      /counts of open pages of app "web" are incomplete \(replica \S+ stopped reporting \d+ s ago\).*; nothing was deleted/,
    )
    const waited = await runCli(
      ['wait-drained', '--url', a.url, '--app', 'web', '--version', 'v1', '--timeout', '2s', '--interval', '500ms'],
      {},
      15_000,
    )
    expect(waited.code).toBe(4)
    expect(waited.stderr).toMatch(/waiting: the counts of open pages are incomplete \(replica \S+ stopped reporting/)
    expect(await fileTree(root)).toEqual(before)

    // B lets go of its page (so it reconnects to a replica that counts it) and takes no new one.
    await page!.ended
    expect(b.output()).toMatch(/ending this replica's 1 streams within 5 s/)
    const elsewhere = await getJson(`${b.url}/events?app=web&version=v1`)
    expect(elsewhere.status).toBe(503)
    expect(elsewhere.json.error).toBe('DN_ERR_STORE_UNAVAILABLE')
    expect(elsewhere.headers['retry-after']).toBe('3')

    link.restore()
    await until(async () => (await health(b)) === 200, 'B back on Redis', 10_000)
    await until(async () => (await appStatus(a, 'web'))?.pagesComplete === true, 'complete counts again', 10_000)
    const [back] = await openRawStreams(b.port, 1, '/events?app=web&version=v1')
    streams.push(back!)
    await until(async () => (await appStatus(a, 'web'))?.pages.versions.v1 === 1, 'A to count the page again', 6000)
    // The refused notify was never stored; the files of the open page are all there.
    expect((await getJson(`${b.url}/version?app=web`)).json).toMatchObject({ version: 'v2', id: '2' })
    expect(await fileTree(root)).toEqual(before)
  }, 60_000)

  it('answers a notify 503 in time while Redis is hung, never applies it later, lets go of streams, and serves again', async () => {
    const env = { REDIS_COMMAND_TIMEOUT_MS: String(COMMAND_TIMEOUT_MS) }
    const [a, b] = await Promise.all([replicas.start(redis.url, env), replicas.start(redis.url, env)])
    expect((await notify(a.url, { app: 'hung', version: 'v1' })).json).toMatchObject({ id: '1' })

    // Redis holds the notify's write past the timeout: CI gets its 503, and when Redis runs the
    // script after all, its deadline has passed and it stores nothing.
    await redis.command('CLIENT', 'PAUSE', 5000, 'WRITE')
    let asked = Date.now()
    const late = await notify(a.url, { app: 'hung', version: 'late' })
    expect(late.status).toBe(503)
    expect(String(late.json.message)).toMatch(/^the deploy was not stored: Redis: /)
    expect(Date.now() - asked).toBeLessThan(COMMAND_TIMEOUT_MS + 1500)
    await redis.command('CLIENT', 'UNPAUSE')
    expect((await notify(b.url, { app: 'hung', version: 'v2' })).json).toMatchObject({ version: 'v2', id: '2' })
    expect(JSON.parse(String(await redis.command('GET', 'deploy-notify:state:hung')))).toMatchObject({ id: '2' })

    // The pause may have kept A's counts from Redis for a moment: a stream once they are shared again.
    await until(async () => (await appStatus(a, 'hung'))?.pagesComplete === true, 'A sharing its counts', 10_000)
    const [page] = await openRawStreams(a.port, 1, '/events?app=hung&version=v2')
    streams.push(page!)
    process.kill(redis.pid!, 'SIGSTOP')
    try {
      asked = Date.now()
      const during = await notify(b.url, { app: 'hung', version: 'during' })
      expect(during.status).toBe(503)
      expect(Date.now() - asked).toBeLessThan(COMMAND_TIMEOUT_MS + 1500)
      for (const replica of [a, b]) {
        await until(async () => (await health(replica)) === 503, 'healthz 503', 2 * COMMAND_TIMEOUT_MS + 1500)
        expect(await metric(replica.url, 'deploy_notify_store_up')).toBe(0)
      }
      // Its counts reach no one: the replica ends its streams, spread out, and takes no new one.
      await page!.ended
      expect((await getJson(`${a.url}/events?app=hung`)).status).toBe(503)
    } finally {
      process.kill(redis.pid!, 'SIGCONT')
    }

    for (const replica of [a, b]) await until(async () => (await health(replica)) === 200, 'healthz 200', 10_000)
    await until(async () => (await appStatus(a, 'hung'))?.pagesComplete === true, 'counts shared again', 10_000)
    const [again] = await openRawStreams(a.port, 1, '/events?app=hung&version=v2')
    streams.push(again!)
    // Neither refused notify took effect: ids go on from the last one acknowledged.
    expect((await notify(a.url, { app: 'hung', version: 'v3' })).json).toMatchObject({ version: 'v3', id: '3' })
    expect(a.output()).toMatch(/no answer within 1000 ms \(Redis or the link is hung\)/)
  }, 60_000)

  it('announces nothing a stray PUBLISH says, and never writes it back after a FLUSHALL', async () => {
    const a = await replicas.start(redis.url)
    expect((await notify(a.url, { app: 'web', version: 'v1' })).status).toBe(202)
    const page = await replicas.open(a.url, 'web', 'v1')

    // Valid deploys by every field rule, but not what Redis stores: one for a known app, one new.
    const time = new Date().toISOString()
    for (const deploy of [
      { app: 'web', version: 'forged', id: '9', time },
      { app: 'stray', version: 'forged', id: '1', time },
    ]) {
      await redis.command('PUBLISH', 'deploy-notify:deploys', JSON.stringify(deploy))
    }
    await until(async () => (await metric(a.url, 'deploy_notify_store_rejected_total')) === 2, 'two rejections')
    expect((await getJson(`${a.url}/version?app=web`)).json).toMatchObject({ version: 'v1', id: '1' })
    expect((await getJson(`${a.url}/version?app=stray`)).status).toBe(404)
    expect(a.output()).toMatch(/ignored a message on the channel .*: Redis does not store it as a deploy of app/)

    // The next real deploy is the first event the page gets: nothing forged came before it.
    expect((await notify(a.url, { app: 'web', version: 'v2' })).json).toMatchObject({ id: '2' })
    await page.next('deploy', 'v2')
    expect(page.received.map((event) => event.data.version)).toEqual(['v2'])

    // Redis loses everything: the replica puts back what Redis had stored, not what was said.
    await redis.command('FLUSHALL')
    await until(() => /restored it from this replica/.test(a.output()), 'the state to be put back', 10_000)
    expect(JSON.parse(String(await redis.command('GET', 'deploy-notify:state:web')))).toMatchObject({
      version: 'v2',
      id: '2',
    })
    expect(await redis.command('GET', 'deploy-notify:state:stray')).toBeNull()
  })
})
