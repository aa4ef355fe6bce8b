import { request } from 'undici'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { Status } from '../server/status.js'
import { getJson, metric, notify, until } from './helpers/http.js'
import { openRawStreams, type RawStream } from './helpers/raw-streams.js'
import { startTestSidecar, TOKEN, type TestSidecar } from './helpers/sidecar.js'

const sidecars: TestSidecar[] = []
const streams: RawStream[] = []
afterEach(async () => {
  for (const s of streams.splice(0)) s.socket.destroy()
  for (const s of sidecars.splice(0)) await s.close()
})

async function start(): Promise<TestSidecar> {
  const sidecar = await startTestSidecar()
  sidecars.push(sidecar)
  return sidecar
}

/** Opens `count` streams of `app` reporting `version`; the hub counts each before its head arrives. */
async function open(sidecar: TestSidecar, count: number, app: string, version: string): Promise<RawStream[]> {
  const opened = await openRawStreams(sidecar.port, count, `/events?app=${app}&version=${encodeURIComponent(version)}`)
  streams.push(...opened)
  return opened
}

async function status(sidecar: TestSidecar): Promise<Status> {
  const answer = await getJson(`${sidecar.url}/status`)
  expect(answer.status).toBe(200)
  return answer.json as unknown as Status
}

const versionsOf = async (sidecar: TestSidecar, app: string) => (await status(sidecar)).apps[app]?.streams.versions

describe('GET /status', () => {
  it('answers JSON that no cache keeps, with no app before anything happened', async () => {
    const sidecar = await start()
    const response = await request(`${sidecar.url}/status`)
    expect(response.statusCode).toBe(200)
    expect(response.headers['content-type']).toMatch(/^application\/json/)
    expect(response.headers['cache-control']).toBe('no-store')
    const body = (await response.body.json()) as Status
    expect(body).toEqual({ apps: {}, time: expect.any(String) })
    expect(Math.abs(Date.parse(body.time) - Date.now())).toBeLessThan(5000)
  })

  it('shows each app the store knows or that has open streams, with its current deploy and history', async () => {
    const sidecar = await start()
    await notify(sidecar.url, { app: 'web', version: 'v1', message: 'first' })
    await notify(sidecar.url, { app: 'web', version: 'v2', message: 'second', mandatory: true })
    await open(sidecar, 1, 'admin', 'a0')

    const { apps } = await status(sidecar)
    expect(Object.keys(apps)).toEqual(['admin', 'web'])
    expect(apps.web).toEqual({
      current: { app: 'web', version: 'v2', id: '2', time: expect.any(String), message: 'second', mandatory: true },
      history: [
        { app: 'web', version: 'v2', id: '2', time: expect.any(String), message: 'second', mandatory: true },
        { app: 'web', version: 'v1', id: '1', time: expect.any(String), message: 'first' },
      ],
      pages: { total: 0, versions: {} },
      // One process counts every page it holds.
      pagesComplete: true,
      // The name of deploy-notify 0.1, kept for the readers written for it.
      streams: { total: 0, versions: {} },
      samples: [],
    })
    expect(apps.admin).toEqual({
      current: null,
      history: [],
      pages: { total: 1, versions: { a0: 1 } },
      pagesComplete: true,
      streams: { total: 1, versions: { a0: 1 } },
      samples: [],
    })
  })

  it('follows connects, disconnects and a reload into a new version, as the gauge does', async () => {
    const sidecar = await start()
    await notify(sidecar.url, { app: 'web', version: 'v1' })
    const v1 = await open(sidecar, 3, 'web', 'v1')
    await open(sidecar, 1, 'web', 'unknown-to-the-store')
    await open(sidecar, 2, 'admin', 'a1')
    expect(await versionsOf(sidecar, 'web')).toEqual({ v1: 3, 'unknown-to-the-store': 1 })
    expect((await status(sidecar)).apps.web?.streams.total).toBe(4)

    await notify(sidecar.url, { app: 'web', version: 'v2' })
    // A tab reloads: its v1 stream closes, and the new page opens one reporting v2.
    v1[0]!.socket.destroy()
    await open(sidecar, 1, 'web', 'v2')
    await until(async () => (await versionsOf(sidecar, 'web'))?.v1 === 2, 'the reloaded tab to leave v1')
    const { apps } = await status(sidecar)
    expect(apps.web?.streams).toEqual({ total: 4, versions: { v1: 2, v2: 1, 'unknown-to-the-store': 1 } })
    expect(apps.admin?.streams).toEqual({ total: 2, versions: { a1: 2 } })
    for (const [version, count] of Object.entries(apps.web!.streams.versions)) {
      expect(await metric(sidecar.url, `deploy_notify_connections{app="web",version="${version}"}`)).toBe(count)
    }
    expect(await metric(sidecar.url, 'deploy_notify_connections{app="web"}')).toBe(4)

    // The last v1 pages close: v1 is forgotten, not shown as 0.
    v1[1]!.socket.destroy()
    v1[2]!.socket.destroy()
    await until(async () => (await versionsOf(sidecar, 'web'))?.v1 === undefined, 'v1 to drain')
    expect(await versionsOf(sidecar, 'web')).toEqual({ v2: 1, 'unknown-to-the-store': 1 })
    expect(await metric(sidecar.url, 'deploy_notify_connections{app="web",version="v1"}')).toBe(0)
  })

  it('counts a page that does not report its version as "unknown"', async () => {
    const sidecar = await start()
    streams.push(...(await openRawStreams(sidecar.port, 1, '/events?app=web')))
    expect(await versionsOf(sidecar, 'web')).toEqual({ unknown: 1 })
  })

  it('forgets an app that has no deploy once its last stream closes', async () => {
    const sidecar = await start()
    const [stream] = await open(sidecar, 1, 'ghost', 'v1')
    expect(Object.keys((await status(sidecar)).apps)).toEqual(['ghost'])
    stream!.socket.destroy()
    await until(async () => Object.keys((await status(sidecar)).apps).length === 0, 'the app to go')
  })

  it('needs no token and shows neither the token nor anything about the pages but counts', async () => {
    const sidecar = await start()
    await notify(sidecar.url, { app: 'web', version: 'v1' })
    await open(sidecar, 2, 'web', 'v1')
    const response = await request(`${sidecar.url}/status`, { headers: { origin: 'https://app.example' } })
    const text = await response.body.text()
    expect(response.statusCode).toBe(200)
    expect(text).not.toContain(TOKEN)
    expect(text).not.toContain('127.0.0.1')
    expect(response.headers['access-control-allow-origin']).toBe('*')
  })
})

describe('the samples of the last hour', () => {
  it('records each app every 10 s by version, draws the drain to zero and keeps one hour at most', async () => {
    // Only the interval timers and the clock are fake: sockets and the test's own waits are real.
    const t0 = Date.parse('2025-06-01T12:00:00.000Z')
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'Date'], now: t0 })
    const sidecar = await startTestSidecar()
    try {
      const samplesOf = async (app: string) => (await status(sidecar)).apps[app]?.samples
      const totalOf = async (app: string) => (await status(sidecar)).apps[app]?.streams.total
      await notify(sidecar.url, { app: 'web', version: 'v1' })
      const v1 = await open(sidecar, 2, 'web', 'v1')
      expect(await samplesOf('web')).toEqual([])

      vi.advanceTimersByTime(10_000)
      expect(await samplesOf('web')).toEqual([{ t: t0 + 10_000, versions: { v1: 2 } }])

      v1[0]!.socket.destroy()
      await open(sidecar, 1, 'web', 'v2')
      // The fake clock stands still, so wait on the count itself rather than with `until`.
      while ((await status(sidecar)).apps.web?.streams.versions.v1 !== 1) await new Promise((r) => setImmediate(r))
      vi.advanceTimersByTime(10_000)
      expect((await samplesOf('web'))?.at(-1)).toEqual({ t: t0 + 20_000, versions: { v1: 1, v2: 1 } })

      for (const stream of streams.splice(0)) stream.socket.destroy()
      while ((await totalOf('web')) !== 0) await new Promise((r) => setImmediate(r))
      vi.advanceTimersByTime(10_000)
      // No stream left, and the last hour shows the drain to zero.
      expect((await samplesOf('web'))?.at(-1)).toEqual({ t: t0 + 30_000, versions: {} })

      await open(sidecar, 1, 'web', 'v3')
      vi.advanceTimersByTime(2 * 60 * 60_000)
      const samples = (await samplesOf('web'))!
      expect(samples).toHaveLength(360)
      expect(samples[0]!.t).toBe(t0 + 30_000 + 2 * 60 * 60_000 - 359 * 10_000)
      expect(samples.every((s) => JSON.stringify(s.versions) === '{"v3":1}')).toBe(true)

      // After a whole hour without a stream there is nothing left to draw.
      for (const stream of streams.splice(0)) stream.socket.destroy()
      while ((await totalOf('web')) !== 0) await new Promise((r) => setImmediate(r))
      vi.advanceTimersByTime(60 * 60_000)
      expect(await samplesOf('web')).toEqual([])
    } finally {
      await sidecar.close()
      vi.useRealTimers()
    }
  })
})
