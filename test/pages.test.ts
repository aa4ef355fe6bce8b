import { request } from 'undici'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { MAX_PAGES_PER_STREAM, MAX_VERSIONS_PER_STREAM } from '../contract/pages.js'
import { LINGER_MS } from '../server/page-counts.js'
import type { Status } from '../server/status.js'
import { getJson, metric, until } from './helpers/http.js'
import { openRawStreams, type RawStream } from './helpers/raw-streams.js'
import { startTestSidecar, type TestSidecar } from './helpers/sidecar.js'

// The tab that holds a browser's one stream says how many pages share it: /events?pages=...
let sidecar: TestSidecar
const streams: RawStream[] = []
beforeAll(async () => {
  sidecar = await startTestSidecar()
})
afterEach(() => {
  for (const stream of streams.splice(0)) stream.socket.destroy()
})
afterAll(async () => {
  await sidecar?.close()
})

const pagesQuery = (pages: unknown, tabs?: string): string =>
  `pages=${encodeURIComponent(typeof pages === 'string' ? pages : JSON.stringify(pages))}${tabs ? `&tabs=${tabs}` : ''}`

async function openStream(app: string, query: string): Promise<RawStream> {
  const [stream] = await openRawStreams(sidecar.port, 1, `/events?app=${app}&version=v10&${query}`)
  streams.push(stream!)
  return stream!
}

async function pagesOf(app: string): Promise<Status['apps'][string]['pages'] | undefined> {
  return ((await getJson(`${sidecar.url}/status`)).json as unknown as Status).apps[app]?.pages
}

describe('pages sharing one stream', () => {
  it('counts every page a stream says it carries, in /status and /metrics, and one stream', async () => {
    await openStream('shared', pagesQuery({ v10: 7, v11: 2 }, 'browser-a'))
    expect(await pagesOf('shared')).toEqual({ total: 9, versions: { v10: 7, v11: 2 } })
    expect(await metric(sidecar.url, 'deploy_notify_connections{app="shared",version="v10"}')).toBe(7)
    expect(await metric(sidecar.url, 'deploy_notify_connections{app="shared",version="v11"}')).toBe(2)
    expect(await metric(sidecar.url, 'deploy_notify_streams{app="shared"}')).toBe(1)
  })

  it('replaces the count when the browser reopens its stream, and keeps a closed one a moment', async () => {
    const first = await openStream('reopen', pagesQuery({ v10: 3 }, 'browser-b'))
    // A tab opened: the browser reopens with the new count. Until the old stream has closed, both
    // count (an open stream is never uncounted by another's word); then only the new one, never 3 + 4.
    await openStream('reopen', pagesQuery({ v10: 4 }, 'browser-b'))
    expect(await pagesOf('reopen')).toEqual({ total: 7, versions: { v10: 7 } })
    first.socket.destroy()
    await first.ended
    await until(async () => (await pagesOf('reopen'))?.total === 4, 'the old stream to leave the count')
    expect(await pagesOf('reopen')).toEqual({ total: 4, versions: { v10: 4 } })

    // The holding tab closed: its pages stay counted until the next tab takes the stream over...
    const last = streams.at(-1)!
    last.socket.destroy()
    const closed = Date.now()
    await until(async () => (await metric(sidecar.url, 'deploy_notify_streams{app="reopen"}')) === 0, 'the close')
    expect(await pagesOf('reopen')).toEqual({ total: 4, versions: { v10: 4 } })
    await openStream('reopen', pagesQuery({ v10: 2, v11: 1 }, 'browser-b'))
    expect(await pagesOf('reopen')).toEqual({ total: 3, versions: { v10: 2, v11: 1 } })
    expect(Date.now() - closed).toBeLessThan(LINGER_MS)

    // ...or, when none does (the last tab closed), for a few seconds.
    streams.at(-1)!.socket.destroy()
    await until(async () => (await pagesOf('reopen')) === undefined, 'the pages to leave', LINGER_MS + 3000)
    expect(Date.now() - closed).toBeGreaterThanOrEqual(LINGER_MS)
  })

  it('bounds what one stream may claim, never dropping a version: pages, versions, and versions that break the rule', async () => {
    await openStream('forged', pagesQuery({ v10: 1_000_000 }, 'forged-1'))
    await openStream('forged', pagesQuery({ v10: 1_000_000 }, 'forged-2'))
    expect(await pagesOf('forged')).toEqual({ total: 2 * MAX_PAGES_PER_STREAM, versions: { v10: 200 } })

    // Past the page cap the largest count is cut, not the straggler on an old version.
    await openStream('capped', pagesQuery({ v2: 100, v1: 1 }))
    expect(await pagesOf('capped')).toEqual({ total: MAX_PAGES_PER_STREAM, versions: { v2: 99, v1: 1 } })

    // Thirty versions in one browser: the most-run are named, the rest counted as "other".
    const many = Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`m${i}`, i === 29 ? 5 : 1]))
    await openStream('many', pagesQuery(many))
    const counted = await pagesOf('many')
    expect(Object.keys(counted?.versions ?? {})).toHaveLength(MAX_VERSIONS_PER_STREAM)
    expect(counted?.versions.m29).toBe(5)
    expect(counted?.versions.other).toBe(30 - (MAX_VERSIONS_PER_STREAM - 1))
    expect(counted?.total).toBe(5 + 29)

    // Another tab's broken stamp is still a page: counted as "unknown", never as a label with a line break.
    await openStream('odd', pagesQuery({ v10: 1, 'bad\nversion': 2, ' ': 1 }))
    expect(await pagesOf('odd')).toEqual({ total: 4, versions: { unknown: 3, v10: 1 } })
  })

  it('refuses a pages value that is not an object of counts with 400, and opens no stream', async () => {
    for (const pages of ['{"v10":0}', '{"v10":1.5}', '{"v10":"7"}', '[1]', '{}', 'v10:7', 'x'.repeat(3001)]) {
      const response = await request(`${sidecar.url}/events?app=refused&${pagesQuery(pages, 'browser-c')}`)
      expect(response.statusCode, pages).toBe(400)
      expect(await response.body.json()).toMatchObject({ error: expect.stringMatching(/^DN_ERR_INVALID_/) })
    }
    const badTabs = await request(`${sidecar.url}/events?app=refused&${pagesQuery({ v1: 1 }, 'no%20spaces')}`)
    expect(badTabs.statusCode).toBe(400)
    await badTabs.body.dump()
    expect(await pagesOf('refused')).toBeUndefined()
  })
})
