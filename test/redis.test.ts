import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { getJson, metric, notify, until } from './helpers/http.js'
import { startCli } from './helpers/process.js'
import { RedisLink } from './helpers/redis-link.js'
import { RedisServer, startRedis, skipWithoutRedis } from './helpers/redis.js'
import { deploysOf, health, Replicas, type WatchedStream } from './helpers/replicas.js'
import { TOKEN } from './helpers/sidecar.js'

// The Redis store when Redis misbehaves: away at start, lost and back under open streams, and
// one replica cut off while the others go on. Real redis-server, replicas in their own processes.
const skip = skipWithoutRedis('test/redis.test.ts')

/**
 * For the tests of catching up: a replica cut off longer than a share and a command timeout
 * lets go of its streams (test/redis-faults.test.ts); these outages stay well within that.
 */
const PATIENT = { REDIS_COMMAND_TIMEOUT_MS: '15000' }

/** A stream that never reconnected: still open, no `error` fired. */
function expectUnbroken(stream: WatchedStream): void {
  expect(stream.source.readyState).toBe(stream.source.OPEN)
  expect(stream.errors).toEqual([])
}

describe.skipIf(skip)('the Redis store', () => {
  let redis: RedisServer
  let replicas: Replicas
  const links: RedisLink[] = []

  beforeEach(async () => {
    redis = await startRedis()
    replicas = new Replicas(redis.dir)
  })
  afterEach(async () => {
    await replicas?.stop()
    for (const link of links.splice(0)) await link.close()
    await redis?.remove()
  })

  it('waits for Redis at start with a clear message, retrying, and listens once Redis answers', async () => {
    await redis.stop()
    const sidecar = startCli(
      ['serve'],
      { REDIS_URL: redis.url, PORT: '0', HOST: '127.0.0.1', NOTIFY_TOKEN: TOKEN },
      15_000,
    )
    try {
      const waiting = (attempt: number) =>
        new RegExp(
          `waiting for Redis at redis://127\\.0\\.0\\.1:${redis.port} \\(attempt ${attempt}\\): .*ECONNREFUSED`,
        )
      await sidecar.printed(waiting(1))
      await sidecar.printed(waiting(3))
      // Retrying, not crash-looping, and not listening without its store.
      expect(sidecar.child.exitCode).toBeNull()
      expect(sidecar.output()).not.toMatch(/listening on/)
      // Nothing was lost: it never had Redis, and has no streams to keep open.
      expect(sidecar.output()).not.toMatch(/lost Redis/)

      await redis.start()
      await sidecar.printed(/deploy-notify listening on http:\/\/127\.0\.0\.1:\d+/, 5000)
      const url = `http://127.0.0.1:${/"port":(\d+)/.exec(sidecar.output())?.[1]}`
      expect((await getJson(`${url}/healthz`)).status).toBe(200)
      expect((await notify(url, { app: 'patient', version: 'v1' })).status).toBe(202)
    } finally {
      sidecar.child.kill('SIGTERM')
    }
    expect((await sidecar.exited).code).toBe(0)
  })

  it('keeps streams open through a short Redis restart; notify is 503 meanwhile, then 202', async () => {
    const [a, b] = await Promise.all([replicas.start(redis.url, PATIENT), replicas.start(redis.url, PATIENT)])
    expect((await notify(a.url, { app: 'kept', version: 'v1' })).status).toBe(202)
    // Pages on v0, so each stream starts with the current deploy (a page on v1 would get none).
    const streams = await Promise.all([replicas.open(a.url, 'kept', 'v0'), replicas.open(b.url, 'kept', 'v0')])
    for (const stream of streams) await stream.next('version', 'v1')

    // A notify in flight when Redis goes: its read is done, its write is held back by Redis,
    // then Redis stops. It must not come back as a 202 for something Redis never stored.
    const getsBefore = await redis.calls('get')
    await redis.command('CLIENT', 'PAUSE', 5000, 'WRITE')
    const inFlight = notify(a.url, { app: 'kept', version: 'in-flight' })
    await until(async () => (await redis.calls('get')) > getsBefore, 'the notify to read the state')
    await redis.stop()

    for (const replica of [a, b]) {
      await until(async () => (await health(replica)) === 503, `${replica.url}/healthz to turn 503`, 3000)
      const healthz = await getJson(`${replica.url}/healthz`)
      expect(healthz.json).toMatchObject({ status: 'unavailable' })
      expect(await metric(replica.url, 'deploy_notify_store_up')).toBe(0)
    }
    const flying = await inFlight
    expect(flying.status).toBe(503)
    expect(flying.json.error).toBe('DN_ERR_STORE_UNAVAILABLE')
    for (const replica of [a, b]) {
      const refused = await notify(replica.url, { app: 'kept', version: 'lost' })
      expect(refused.status).toBe(503)
      expect(refused.json).toMatchObject({ error: 'DN_ERR_STORE_UNAVAILABLE' })
      expect(String(refused.json.message)).toMatch(/^the deploy was not stored: Redis: /)
      // The streams and what serves pages from memory carry on.
      expect(await metric(replica.url, 'deploy_notify_connections{app="kept"}')).toBe(1)
      expect((await getJson(`${replica.url}/version?app=kept`)).json.version).toBe('v1')
    }
    for (const stream of streams) expectUnbroken(stream)

    await redis.start()
    for (const replica of [a, b]) {
      await until(async () => (await health(replica)) === 200, `${replica.url}/healthz to recover`, 5000)
      expect(await metric(replica.url, 'deploy_notify_store_up')).toBe(1)
    }
    const stored = await notify(b.url, { app: 'kept', version: 'v2' })
    expect(stored.status).toBe(202)
    // Id 2: v1 outlived the restart, and neither refused notify was stored.
    expect(stored.json).toMatchObject({ version: 'v2', id: '2' })
    for (const [i, stream] of streams.entries()) {
      await stream.next('deploy', 'v2')
      expect(deploysOf(stream), `stream ${i}`).toEqual(['v2'])
      expectUnbroken(stream)
    }
    for (const replica of [a, b]) {
      expect(await metric(replica.url, 'deploy_notify_connections{app="kept"}')).toBe(1)
      // One line for the outage, however many attempts it took, and one for the way back.
      expect(
        replica.output().match(/lost Redis at redis:\/\/127\.0\.0\.1:\d+ \(.*\); notifies fail until it is back/g),
      ).toHaveLength(1)
      expect(replica.output()).toMatch(/Redis is back; re-reading the current deploys/)
    }
  })

  it('brings the streams of a replica whose subscription was killed up to date (CLIENT KILL TYPE pubsub)', async () => {
    const [a, b] = await Promise.all([replicas.start(redis.url, PATIENT), replicas.start(redis.url, PATIENT)])
    const streams = await Promise.all([replicas.open(a.url, 'killed'), replicas.open(b.url, 'killed')])
    expect((await notify(a.url, { app: 'killed', version: 'v1' })).status).toBe(202)
    for (const stream of streams) await stream.next('deploy', 'v1')

    expect(await redis.command('CLIENT', 'KILL', 'TYPE', 'pubsub')).toBe(2)
    // At once, while the subscriptions are likely still gone: the publish may reach nobody, and
    // then each replica's re-read on reconnecting must deliver it. Either path will do.
    expect((await notify(a.url, { app: 'killed', version: 'v2' })).status).toBe(202)
    for (const stream of streams) await stream.next('deploy', 'v2', 5000)

    // Once each, whichever path delivered it: a later deploy closes the sequence.
    await until(async () => (await health(a)) === 200 && (await health(b)) === 200, 'both subscriptions back')
    expect((await notify(b.url, { app: 'killed', version: 'v3' })).status).toBe(202)
    for (const stream of streams) {
      await stream.next('deploy', 'v3')
      expect(deploysOf(stream)).toEqual(['v1', 'v2', 'v3'])
      expectUnbroken(stream)
    }
  })

  it('brings a replica cut off from Redis up to date when it is back, while the others go on', async () => {
    const link = await RedisLink.open(redis.port)
    links.push(link)
    const [a, b] = await Promise.all([replicas.start(redis.url), replicas.start(link.url, PATIENT)])
    expect((await notify(a.url, { app: 'cut', version: 'v1' })).status).toBe(202)
    const [onA, onB] = await Promise.all([replicas.open(a.url, 'cut'), replicas.open(b.url, 'cut')])
    await onB.next('version', 'v1')

    link.cut()
    await until(async () => (await health(b)) === 503, 'the cut-off replica to report it', 3000)
    expect(await health(a)).toBe(200)
    expect((await notify(b.url, { app: 'cut', version: 'refused' })).status).toBe(503)
    expect((await notify(a.url, { app: 'cut', version: 'v2' })).status).toBe(202)
    await onA.next('deploy', 'v2')
    // The cut-off replica really missed it: this is a gap to close, not a race won.
    expect((await getJson(`${b.url}/version?app=cut`)).json.version).toBe('v1')
    expect(deploysOf(onB)).toEqual([])

    link.restore()
    const caughtUp = await onB.next('deploy', 'v2', 5000)
    expect(caughtUp.data).toMatchObject({ version: 'v2', id: '2' })
    expect((await getJson(`${b.url}/version?app=cut`)).json.version).toBe('v2')
    await until(async () => (await health(b)) === 200, 'the replica to report Redis back')
    expectUnbroken(onB)
  })

  it('brings a replica up to date when its subscriber gets back to Redis before its command connection', async () => {
    const link = await RedisLink.open(redis.port)
    links.push(link)
    const [a, b] = await Promise.all([replicas.start(redis.url), replicas.start(link.url, PATIENT)])
    expect((await notify(a.url, { app: 'half', version: 'v1' })).status).toBe(202)
    const onB = await replicas.open(b.url, 'half')
    await onB.next('version', 'v1')

    link.cut()
    await until(async () => (await health(b)) === 503, 'the cut-off replica to report it', 3000)
    expect((await notify(a.url, { app: 'half', version: 'v2' })).status).toBe(202)

    // After a Redis restart either connection may be back first. Here the subscriber (it names
    // itself deploy-notify-subscriber-PID) is, and subscribes again; the command connection,
    // which the re-read of the state needs, is kept out until the subscriber is settled.
    link.onlyNamed('deploy-notify-subscriber-')
    const subscribers = async () =>
      ((await redis.command('PUBSUB', 'NUMSUB', 'deploy-notify:deploys')) as [string, number])[1]
    await until(async () => (await subscribers()) === 2, "the cut-off replica's subscriber to be back", 5000)
    await until(() => link.refused.length > 0, 'its command connection to try and be refused', 5000)
    expect(await health(b)).toBe(503)
    expect(deploysOf(onB)).toEqual([])

    link.restore()
    await onB.next('deploy', 'v2', 5000)
    expect((await getJson(`${b.url}/version?app=half`)).json.version).toBe('v2')
    await until(async () => (await health(b)) === 200, 'the replica to report Redis back')
    expectUnbroken(onB)
  })

  it('ignores messages on its channel that are not valid deploys: counted, logged once, no stream changed', async () => {
    const a = await replicas.start(redis.url)
    const page = await replicas.open(a.url, 'poison', 'v0')
    expect((await notify(a.url, { app: 'poison', version: 'v1' })).status).toBe(202)
    await page.next('deploy', 'v1')

    const forged = { app: 'poison', version: 'forged', id: '7\nevent: deploy', time: new Date().toISOString() }
    for (const message of ['not json', '{"hello":"from another program"}', JSON.stringify(forged)]) {
      await redis.command('PUBLISH', 'deploy-notify:deploys', message)
    }
    await until(async () => (await metric(a.url, 'deploy_notify_store_rejected_total')) === 3, 'three rejections')
    expect(await health(a)).toBe(200)
    expect((await getJson(`${a.url}/version?app=poison`)).json).toMatchObject({ version: 'v1', id: '1' })
    // Rate-limited: one line for the burst, naming the first reason.
    expect(a.output().match(/ignored a message on the channel that is not a valid deploy: not JSON/g)).toHaveLength(1)

    // A poisoned key is not served either: the next notify decides against this replica's copy.
    await redis.command('SET', 'deploy-notify:state:poison', JSON.stringify(forged))
    const next = await notify(a.url, { app: 'poison', version: 'v2' })
    expect(next.json).toMatchObject({ version: 'v2', id: '2' })
    await page.next('deploy', 'v2')
    expect(page.received.map((event) => `${event.type} ${event.data.version} ${event.lastEventId}`)).toEqual([
      'deploy v1 1',
      'deploy v2 2',
    ])
    expectUnbroken(page)
  })

  it('puts the state back when Redis loses it, so ids go on for every page and every replica', async () => {
    const a = await replicas.start(redis.url)
    for (const version of ['v1', 'v2']) expect((await notify(a.url, { app: 'lost', version })).status).toBe(202)
    const page = await replicas.open(a.url, 'lost')
    await page.next('version', 'v2')

    // Data lost: flushed, and restarted from an empty append-only file (no persistence).
    await redis.command('FLUSHALL')
    await redis.restart()
    await until(
      () => /Redis had lost the state of 1 app\(s\); restored it from this replica/.test(a.output()),
      'the replica to put the state back',
      10_000,
    )
    expect(JSON.parse(String(await redis.command('GET', 'deploy-notify:state:lost')))).toMatchObject({ id: '2' })

    // A replica started after the loss counts on from there, and so do the pages of the first.
    const b = await replicas.start(redis.url)
    const next = await notify(b.url, { app: 'lost', version: 'v3' })
    expect(next.json).toMatchObject({ version: 'v3', id: '3' })
    const event = await page.next('deploy', 'v3', 5000)
    expect(event.lastEventId).toBe('3')

    // Flushed again without a restart: the very next notify goes on from the replica's copy.
    await redis.command('FLUSHALL')
    expect((await notify(a.url, { app: 'lost', version: 'v4' })).json).toMatchObject({ id: '4' })
    await page.next('deploy', 'v4')
    expect(page.received.map((e) => e.lastEventId)).toEqual(['2', '3', '4'])
  })
})
