import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { connect, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { request } from 'undici'
import { afterEach, describe, expect, it } from 'vitest'
import { MAX_OTHER_APPS } from '../server/app-names.js'
import { OTHER_VERSIONS } from '../contract/pages.js'
import { MAX_VERSIONS, type Status } from '../server/status.js'
import { getJson, notify, until } from './helpers/http.js'
import { spawnSidecar, type SidecarProcess } from './helpers/process.js'
import { TOKEN } from './helpers/sidecar.js'
import { attemptStream, type StreamAttempt } from './helpers/stream-attempt.js'

// What one client can make the sidecar hold is bounded by configuration, not by what it sends:
// the sidecar runs as its own process (its memory read from /proc), clients are bare sockets.
const running: { sidecar: SidecarProcess; dataDir: string }[] = []
const sockets: Socket[] = []
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy()
  for (const { sidecar, dataDir } of running.splice(0)) {
    sidecar.child.kill('SIGTERM')
    await sidecar.exited.catch(() => undefined)
    await rm(dataDir, { recursive: true, force: true })
  }
})

async function start(env: Record<string, string> = {}, fileLimit?: number): Promise<SidecarProcess> {
  const dataDir = await mkdtemp(join(tmpdir(), 'deploy-notify-bounds-'))
  const sidecar = await spawnSidecar({ NOTIFY_TOKEN: TOKEN, DATA_DIR: dataDir, ...env }, 90_000, { fileLimit })
  running.push({ sidecar, dataDir })
  return sidecar
}

/** The sidecar process's resident memory, MB. */
async function rssMb(sidecar: SidecarProcess): Promise<number> {
  const status = await readFile(`/proc/${sidecar.child.pid}/status`, 'utf8')
  return Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1]) / 1024
}

/** Connects, asks `GET /healthz` on a keep-alive connection, and leaves it idle; resolves once answered. */
function idleKeepAlive(port: number, localAddress = '127.0.0.1'): Promise<{ socket: Socket; closed: Promise<number> }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1', localAddress })
    sockets.push(socket)
    let text = ''
    let answeredAt = 0
    socket.on('error', () => {})
    const closed = new Promise<number>((done) => socket.once('close', () => done(Date.now() - answeredAt)))
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString()
      if (answeredAt === 0 && text.includes('{"status":"ok"}')) {
        answeredAt = Date.now()
        resolve({ socket, closed })
      }
    })
    socket.once('close', () => answeredAt === 0 && reject(new Error(`closed before an answer: ${text}`)))
    socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n')
  })
}

const keep = (attempts: StreamAttempt[]): StreamAttempt[] => (sockets.push(...attempts.map((a) => a.socket)), attempts)

describe('connections that are not streams', () => {
  it('closes idle keep-alive connections within 6 s, well before REQUEST_TIMEOUT_MS (10 s)', async () => {
    const sidecar = await start()
    const idle = await Promise.all(Array.from({ length: 50 }, () => idleKeepAlive(sidecar.port)))
    const after = await Promise.all(idle.map((connection) => connection.closed))
    expect(Math.max(...after)).toBeLessThan(6500)
  })

  it('answers notify and /healthz while streams fill every slot the file limit allows and idle connections pile up', async () => {
    // An open-file limit of 200: MAX_CONNECTIONS defaults to 180, but the descriptors Node holds
    // and the headroom leave fewer stream slots; the sidecar says so at start.
    const sidecar = await start({}, 200)
    expect(sidecar.output()).toMatch(/the open-file limit leaves room for \d+ streams, fewer than MAX_CONNECTIONS/)
    const path = '/events?app=full'
    const attempts: StreamAttempt[] = []
    // Two addresses (one may hold half of MAX_CONNECTIONS), until the sidecar refuses.
    for (const localAddress of ['127.0.0.2', '127.0.0.3']) {
      for (let i = 0; i < 90; i++) attempts.push(await attemptStream(sidecar.port, path, { localAddress }))
    }
    keep(attempts)
    const streams = attempts.filter((attempt) => attempt.status === 200).length
    expect(streams).toBeGreaterThan(100)
    expect(attempts.filter((attempt) => attempt.status === 503)).toHaveLength(180 - streams)
    // 60 idle keep-alive connections on top, more than the headroom for other connections.
    const idle = await Promise.allSettled(Array.from({ length: 60 }, () => idleKeepAlive(sidecar.port, '127.0.0.4')))
    expect(idle.some((connection) => connection.status === 'fulfilled')).toBe(true)

    // CI's notify and a health check are answered at once, and every stream got the deploy.
    const answer = await notify(sidecar.url, { app: 'full', version: 'v2' })
    expect(answer.status).toBe(202)
    expect(answer.json.delivered).toBe(streams)
    const health = await request(`${sidecar.url}/healthz`)
    expect(health.statusCode).toBe(200)
    await health.body.dump()
    await until(
      () => attempts.every((a) => a.status !== 200 || a.text().includes('event: deploy')),
      'the deploy on every stream',
    )
  })
})

describe('app names and versions', () => {
  it(
    `keeps the memory bounded through rounds of made-up app names: ${MAX_OTHER_APPS} apps without a deploy at most`,
    { timeout: 90_000 },
    async () => {
      const sidecar = await start({ MAX_CONNECTIONS: '2000', MAX_STREAMS_PER_ADDRESS: '2000' })
      await notify(sidecar.url, { app: 'real', version: 'v1' })
      const rss: number[] = []
      const refusals = new Set<string>()
      const firstRound: string[] = []
      // A round every 2 s for 24 s, 500 new names each, held until the next: 6,000 names in all,
      // sampled by the sidecar every 10 s while open.
      let previous: StreamAttempt[] = []
      for (let round = 0; round < 12; round++) {
        const names = Array.from({ length: 500 }, (_, i) => `made-up-${round}-${i}`)
        if (round === 0) firstRound.push(...names)
        const attempts = keep(
          await Promise.all(names.map((name) => attemptStream(sidecar.port, `/events?app=${name}&version=v1`))),
        )
        for (const attempt of attempts) if (attempt.status !== 200) refusals.add(attempt.text().split('\r\n\r\n')[1]!)
        for (const old of previous) old.socket.destroy()
        previous = attempts
        rss.push(await rssMb(sidecar))
        await new Promise((resolve) => setTimeout(resolve, 2000))
      }
      // Past the ceiling, a new name is told why, and an app with a deploy still gets its stream.
      expect([...refusals].map((body) => JSON.parse(body) as { error: string })).toContainEqual(
        expect.objectContaining({ error: 'DN_ERR_TOO_MANY_APPS' }),
      )
      expect((await attemptStream(sidecar.port, '/events?app=real&version=v1').then((a) => keep([a])))[0]!.status).toBe(
        200,
      )
      const status = (await getJson(`${sidecar.url}/status`)).json as unknown as Status
      expect(Object.keys(status.apps).length).toBeLessThanOrEqual(MAX_OTHER_APPS + 1)
      // The first round's names, closed at the second round, are forgotten within half a minute.
      await until(
        async () => {
          const now = (await getJson(`${sidecar.url}/status`)).json as unknown as Status
          return firstRound.every((name) => !Object.hasOwn(now.apps, name))
        },
        "the first round's names to be forgotten",
        20_000,
      )
      // Bounded: the last rounds hold no more than the first ones did, within noise (MB).
      const early = Math.max(...rss.slice(0, 6))
      const late = Math.max(...rss.slice(-4))
      console.log(`made-up app names: RSS by round (MB): ${rss.map((mb) => mb.toFixed(0)).join(' ')}`)
      expect(late - early).toBeLessThan(25)
      expect(Math.max(...rss)).toBeLessThan(RSS_BOUND_MB)
    },
  )

  it(`answers /status with ${MAX_VERSIONS} versions and "${OTHER_VERSIONS}" however many distinct versions pages claim`, async () => {
    const sidecar = await start({ MAX_CONNECTIONS: '2000', MAX_STREAMS_PER_ADDRESS: '2000' })
    // 1,000 streams, 20 distinct versions each: 20,000 versions of one app.
    const attempts: StreamAttempt[] = []
    for (let batch = 0; batch < 5; batch++) {
      attempts.push(
        ...(await Promise.all(
          Array.from({ length: 200 }, (_, i) => {
            const stream = batch * 200 + i
            const pages = Object.fromEntries(Array.from({ length: 20 }, (_, v) => [`v${stream}-${v}`, 1]))
            return attemptStream(sidecar.port, `/events?app=wide&pages=${encodeURIComponent(JSON.stringify(pages))}`)
          }),
        )),
      )
    }
    keep(attempts)
    expect(attempts.every((attempt) => attempt.status === 200)).toBe(true)
    const status = (await getJson(`${sidecar.url}/status`)).json as unknown as Status
    const pages = status.apps.wide?.pages
    expect(pages?.total).toBe(20_000)
    expect(Object.keys(pages?.versions ?? {})).toHaveLength(MAX_VERSIONS + 1)
    expect(Object.values(pages?.versions ?? {}).reduce((sum, n) => sum + n, 0)).toBe(20_000)
  })
})

/** What the sidecar's RSS stays within through the rounds of made-up names (README states it). */
const RSS_BOUND_MB = 150
