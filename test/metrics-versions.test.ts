import { request } from 'undici'
import { afterEach, describe, expect, it } from 'vitest'
import type { Status } from '../server/status.js'
import { getJson, metric, until } from './helpers/http.js'
import { openRawStreams, type RawStream } from './helpers/raw-streams.js'
import { startTestSidecar, type TestSidecar } from './helpers/sidecar.js'

let sidecar: TestSidecar | undefined
const streams: RawStream[] = []
afterEach(async () => {
  for (const s of streams.splice(0)) s.socket.destroy()
  await sidecar?.close()
})

async function open(count: number, version: string): Promise<RawStream[]> {
  const opened = await openRawStreams(sidecar!.port, count, `/events?app=web&version=${encodeURIComponent(version)}`)
  streams.push(...opened)
  return opened
}

/** The gauge's series of one app, by version, as Prometheus would scrape them. */
async function gauge(app: string): Promise<Record<string, number>> {
  const text = await (await request(`${sidecar!.url}/metrics`)).body.text()
  const series = [...text.matchAll(/^deploy_notify_connections\{app="([^"]*)",version="([^"]*)"\} (\d+)$/gm)]
  return Object.fromEntries(series.filter((m) => m[1] === app).map((m) => [m[2]!, Number(m[3])]))
}

async function statusVersions(app: string): Promise<Record<string, number> | undefined> {
  return ((await getJson(`${sidecar!.url}/status`)).json as unknown as Status).apps[app]?.streams.versions
}

describe('deploy_notify_connections{app,version}', () => {
  it('labels each running version, sums to the per-app gauge, and drops a version with no stream', async () => {
    sidecar = await startTestSidecar()
    const old = await open(2, 'v1')
    await open(3, 'v2')
    expect(await gauge('web')).toEqual({ v1: 2, v2: 3 })
    expect(await metric(sidecar.url, 'deploy_notify_connections{app="web"}')).toBe(5)
    expect(await gauge('web')).toEqual(await statusVersions('web'))

    for (const stream of old) stream.socket.destroy()
    await until(async () => (await gauge('web')).v1 === undefined, 'the v1 series to go')
    expect(await gauge('web')).toEqual({ v2: 3 })
  })

  it('labels at most 20 versions per app, the most-run ones, and sums the rest as "other", as /status does', async () => {
    sidecar = await startTestSidecar()
    await open(5, 'a')
    await open(4, 'b')
    // 20 more versions of one page each: c01..c18 fill the 20 labels (ties go by name), c19 and c20 are "other".
    for (let i = 1; i <= 20; i++) await open(1, `c${String(i).padStart(2, '0')}`)

    const labelled = await gauge('web')
    expect(Object.keys(labelled)).toHaveLength(21)
    expect(labelled).toMatchObject({ a: 5, b: 4, c01: 1, c18: 1, other: 2 })
    expect(labelled.c19).toBeUndefined()
    expect(await metric(sidecar.url, 'deploy_notify_connections{app="web"}')).toBe(29)
    expect(await statusVersions('web')).toEqual(labelled)
  })

  it('escapes a version that needs it, so one page cannot break the exposition format', async () => {
    sidecar = await startTestSidecar()
    await open(1, 'v"1\\')
    const text = await (await request(`${sidecar.url}/metrics`)).body.text()
    expect(text).toMatch(/^deploy_notify_connections\{app="web",version="v\\"1\\\\"\} 1$/m)
  })
})
