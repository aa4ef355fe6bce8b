import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { MAX_PAGES_PER_STREAM } from '../contract/pages.js'
import { PAGES_PER_ADDRESS_STREAM } from '../server/page-counts.js'
import { MAX_STATUS_STREAMS_PER_ADDRESS } from '../server/status-page/streams.js'
import type { Status } from '../server/status.js'
import { getJson, until } from './helpers/http.js'
import { findNginx, startNginx, type RunningNginx } from './helpers/nginx.js'
import { runCli } from './helpers/process.js'
import { openRawStreams } from './helpers/raw-streams.js'
import { startTestSidecar, type TestSidecar } from './helpers/sidecar.js'
import { attemptStream, attemptStreams, type StreamAttempt } from './helpers/stream-attempt.js'

// One client address gets a fair share, never everything: of the stream slots, of the status
// streams and of the pages it may claim. Clients bind their sockets to addresses of 127.0.0.0/8
// (all of it is this host), directly and through the repo's nginx.conf, which forwards them.
const nginxBinary = findNginx()
if (!nginxBinary && !process.env.CI) {
  console.warn('\n!!! nginx not found: SKIPPING the nginx part of test/fair-share.test.ts (CI fails instead) !!!\n')
}

const open: { destroy(): void }[] = []
afterEach(() => {
  for (const socket of open.splice(0)) socket.destroy()
})
const keep = (attempts: StreamAttempt[]): StreamAttempt[] => (open.push(...attempts.map((a) => a.socket)), attempts)
const statuses = (attempts: StreamAttempt[]): number[] => attempts.map((attempt) => attempt.status)

async function appStatus(sidecar: TestSidecar, app: string): Promise<Status['apps'][string] | undefined> {
  return ((await getJson(`${sidecar.url}/status`)).json as unknown as Status).apps[app]
}

// 40 slots: by default one address may hold half of them.
describe('a sidecar with MAX_CONNECTIONS=40', () => {
  let sidecar: TestSidecar
  beforeAll(async () => {
    sidecar = await startTestSidecar({ MAX_CONNECTIONS: '40' })
  })
  afterAll(async () => {
    await sidecar?.close()
  })

  it('gives one address half the stream slots by default, and still admits a second address', async () => {
    const first = keep(await attemptStreams(sidecar.port, '/events?app=share', 21, { localAddress: '127.0.0.2' }))
    expect(statuses(first)).toEqual([...Array<number>(20).fill(200), 503])
    const refused = first[20]!.text()
    expect(refused).toMatch(/\r\nretry-after: \d+\r\n/i)
    expect(refused).toMatch(/"error":"DN_ERR_TOO_MANY_STREAMS"/)
    expect(refused).toContain('maximum of 20 streams from one client address')
    // Another browser elsewhere is not locked out by the first address.
    const second = keep([await attemptStream(sidecar.port, '/events?app=share', { localAddress: '127.0.0.3' })])
    expect(statuses(second)).toEqual([200])
    // A slot of the first address comes back when one of its streams closes.
    first[0]!.socket.destroy()
    await until(async () => {
      const again = await attemptStream(sidecar.port, '/events?app=share', { localAddress: '127.0.0.2' })
      open.push(again.socket)
      return again.status === 200
    }, 'a slot for the first address again')
  })

  it('bounds the status page streams of one address apart from the others', async () => {
    const path = '/status/events'
    const first = keep(
      await attemptStreams(sidecar.port, path, MAX_STATUS_STREAMS_PER_ADDRESS + 1, { localAddress: '127.0.0.4' }),
    )
    expect(statuses(first)).toEqual([...Array<number>(MAX_STATUS_STREAMS_PER_ADDRESS).fill(200), 503])
    expect(first.at(-1)!.text()).toMatch(/"error":"DN_ERR_TOO_MANY_STREAMS"/)
    expect(statuses(keep([await attemptStream(sidecar.port, path, { localAddress: '127.0.0.5' })]))).toEqual([200])
  })

  it('counts the pages one address claims up to its bound, and reports the rest apart, which keeps wait-drained waiting', async () => {
    const bound = PAGES_PER_ADDRESS_STREAM * 20
    // Twenty streams of one address, each claiming the most one stream may: 2000 pages of v1.
    const claims = `/events?app=claims&version=v1&pages=${encodeURIComponent(JSON.stringify({ v1: MAX_PAGES_PER_STREAM }))}`
    const forged = await openRawStreams(sidecar.port, 20, claims, { localAddress: '127.0.0.6' })
    open.push(...forged.map((stream) => stream.socket))
    // A real page elsewhere is counted in full.
    const [real] = await openRawStreams(sidecar.port, 1, '/events?app=claims&version=v2', { localAddress: '127.0.0.7' })
    open.push(real!.socket)

    expect((await appStatus(sidecar, 'claims'))?.pages).toEqual({
      total: bound + 1,
      versions: { v1: bound, v2: 1 },
      excess: 20 * MAX_PAGES_PER_STREAM - bound,
    })
    // The claims past the bound may be pages of any version: the counts are incomplete, and
    // wait-drained does not call v3 drained.
    expect(await appStatus(sidecar, 'claims')).toMatchObject({
      pagesComplete: false,
      pagesIncomplete: `${20 * MAX_PAGES_PER_STREAM - bound} pages claimed past one client address's bound are not counted`,
    })
    const wait = await runCli([
      'wait-drained',
      '--url',
      sidecar.url,
      '--app',
      'claims',
      '--version',
      'v3',
      '--timeout',
      '1s',
    ])
    expect(wait.code).toBe(4)
    expect(wait.stderr).toContain("pages claimed past one client address's bound are not counted")

    // Once the claiming streams close, only the real page is left, and nothing is in excess.
    for (const stream of forged) stream.socket.destroy()
    await until(async () => (await appStatus(sidecar, 'claims'))?.pages.total === 1, 'the claims to leave')
    expect(await appStatus(sidecar, 'claims')).toMatchObject({
      pages: { total: 1, versions: { v2: 1 } },
      pagesComplete: true,
    })
  })

  it("scopes a browser's tabs id to its app: another app's stream with the same id takes nothing away", async () => {
    const pages = (counts: Record<string, number>) => encodeURIComponent(JSON.stringify(counts))
    const [a] = await openRawStreams(sidecar.port, 1, `/events?app=tabs-a&pages=${pages({ v1: 3 })}&tabs=same-id`)
    open.push(a!.socket)
    const [b] = await openRawStreams(sidecar.port, 1, `/events?app=tabs-b&pages=${pages({ v9: 1 })}&tabs=same-id`)
    open.push(b!.socket)
    // And a stream of the same app with that id, while the first is open, adds to it until that one closes.
    const [again] = await openRawStreams(sidecar.port, 1, `/events?app=tabs-a&pages=${pages({ v1: 1 })}&tabs=same-id`)
    open.push(again!.socket)
    expect((await appStatus(sidecar, 'tabs-a'))?.pages).toEqual({ total: 4, versions: { v1: 4 } })
    expect((await appStatus(sidecar, 'tabs-b'))?.pages).toEqual({ total: 1, versions: { v9: 1 } })
  })
})

describe('TRUST_PROXY', () => {
  it('takes X-Forwarded-For only from the proxies it names', async () => {
    // Only 127.0.0.1 is a proxy: a client on 127.0.0.8 that makes up a new address per stream
    // is still one address.
    const sidecar = await startTestSidecar({ MAX_CONNECTIONS: '10', TRUST_PROXY: '127.0.0.1' })
    try {
      const forged = keep(
        await Promise.all(
          Array.from({ length: 6 }, (_, i) =>
            attemptStream(sidecar.port, '/events', {
              localAddress: '127.0.0.8',
              headers: { 'x-forwarded-for': `10.0.0.${i}` },
            }),
          ),
        ),
      )
      expect(statuses(forged).sort()).toEqual([200, 200, 200, 200, 200, 503])
      // From the trusted proxy, each forwarded address has a share of its own.
      const proxied = keep(
        await Promise.all(
          Array.from({ length: 4 }, (_, i) =>
            attemptStream(sidecar.port, '/events', { headers: { 'x-forwarded-for': `10.0.1.${i}` } }),
          ),
        ),
      )
      expect(statuses(proxied)).toEqual([200, 200, 200, 200])
    } finally {
      await sidecar.close()
    }
  })

  it('refuses a value that is not false, a hop count or addresses (exit 2)', async () => {
    for (const [value, message] of [
      ['true', /TRUST_PROXY: "true" is not false, a hop count, an address, a CIDR range/],
      ['10.0.0.0/33', /TRUST_PROXY: "10.0.0.0\/33" is not/],
    ] as const) {
      const exit = await runCli(['serve'], { PORT: '0', TRUST_PROXY: value, NOTIFY_TOKEN: 'x'.repeat(16) })
      expect(exit.code).toBe(2)
      expect(exit.stderr).toMatch(message)
    }
  })
})

describe.skipIf(!nginxBinary && !process.env.CI)("the repo's nginx.conf in front", () => {
  let sidecar: TestSidecar
  let nginx: RunningNginx
  let root: string

  beforeAll(async () => {
    if (!nginxBinary) throw new Error('nginx is required in CI: install it (apt-get install nginx-light) or set NGINX')
    root = await mkdtemp(join(tmpdir(), 'deploy-notify-share-'))
    await writeFile(join(root, 'index.html'), '<!doctype html>')
    sidecar = await startTestSidecar({ MAX_CONNECTIONS: '40' })
    nginx = await startNginx(nginxBinary, { root, upstream: `127.0.0.1:${sidecar.port}` })
  })
  afterAll(async () => {
    await nginx?.stop()
    await sidecar?.close()
    if (root) await rm(root, { recursive: true, force: true })
  })

  it('gives each browser address behind nginx its own share (the forwarded address), not one share for nginx', async () => {
    const path = '/deploy-notify/events?app=behind'
    const first = keep(await attemptStreams(nginx.port, path, 21, { localAddress: '127.0.0.9' }))
    expect(statuses(first)).toEqual([...Array<number>(20).fill(200), 503])
    expect(first[20]!.text()).toContain('maximum of 20 streams from one client address')
    // Two more addresses through the same nginx: both admitted.
    const others = keep([
      await attemptStream(nginx.port, path, { localAddress: '127.0.0.10' }),
      await attemptStream(nginx.port, path, { localAddress: '127.0.0.11' }),
    ])
    expect(statuses(others)).toEqual([200, 200])
  })
})
