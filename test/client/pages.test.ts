import type { Page } from 'playwright-core'
import { describe, expect, it } from 'vitest'
import type { Status } from '../../server/status.js'
import { skipBrowserTests, useBrowser } from '../helpers/browser.js'
import { getJson, metric } from '../helpers/http.js'
import { appPage, useAppServers } from '../helpers/pages.js'
import { startCli } from '../helpers/process.js'
import { useSidecar } from '../helpers/sidecar.js'
import { waitForStreams } from './sidecars.js'

type Counts = Record<string, number>

/** How soon a closed tab leaves the count: its goodbye, or else three missed roll calls (client/core/tabs.ts). */
const LEAVES_MS = 7000

const same = (a: Counts, b: Counts): boolean =>
  Object.keys(a).length === Object.keys(b).length && Object.entries(a).every(([k, n]) => b[k] === n)

// Nine tabs of one app in one browser, on two versions: one stream, and every page counted.
// Opening nine tabs one after another takes a while on a busy machine: the tests get a minute.
describe.skipIf(skipBrowserTests)('pages of one browser', () => {
  const browser = useBrowser()
  const serve = useAppServers()
  const sidecar = useSidecar({ RETRY_MS: '200' })

  const pagesOf = async (app: string): Promise<Counts> =>
    ((await getJson(`${sidecar().url}/status`)).json as unknown as Status).apps[app]?.pages.versions ?? {}

  /**
   * Polls /status (bounded) until the app's pages are `expected`; fails if a poll on the way
   * counts fewer than `atLeast`, the under-count that must never happen. Resolves to the time taken.
   */
  async function waitForPages(app: string, expected: Counts, atLeast: Counts = {}, timeoutMs = 8000): Promise<number> {
    const started = Date.now()
    for (;;) {
      const counts = await pagesOf(app)
      for (const [version, n] of Object.entries(atLeast)) {
        expect(
          counts[version] ?? 0,
          `pages of ${version} on the way to ${JSON.stringify(expected)}`,
        ).toBeGreaterThanOrEqual(n)
      }
      if (same(counts, expected)) return Date.now() - started
      if (Date.now() - started > timeoutMs)
        throw new Error(
          `expected pages ${JSON.stringify(expected)} within ${timeoutMs} ms, /status says ${JSON.stringify(counts)}`,
        )
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }

  it('counts 7 and 2 over one stream, lets closed tabs leave within seconds, and survives the leader closing', async () => {
    const app = 'nine-tabs'
    const src = `${sidecar().url}/client.js`
    const { url } = await serve({
      '/': appPage({ client: { src, version: 'v10', app } }),
      '/v11': appPage({ client: { src, version: 'v11', app } }),
    })
    const context = await browser.newContext()
    const v10: Page[] = []
    const v11: Page[] = []
    // The first tab opened asks for the lock first, so it holds the stream.
    for (let i = 0; i < 7; i++) v10.push(await browser.open(`${url}/`, context))
    for (let i = 0; i < 2; i++) v11.push(await browser.open(`${url}/v11`, context))

    await waitForPages(app, { v10: 7, v11: 2 })
    expect(await metric(sidecar().url, `deploy_notify_connections{app="${app}",version="v10"}`)).toBe(7)
    expect(await metric(sidecar().url, `deploy_notify_connections{app="${app}",version="v11"}`)).toBe(2)
    await waitForStreams(sidecar().url, app, 1)

    // Two tabs close: they leave the count within a few seconds, and nothing else does. A
    // closing tab's goodbye takes about a second; one lost on a busy machine is made up for by
    // three missed roll calls, 6.5 s at most.
    await v10.pop()!.close()
    await v10.pop()!.close()
    expect(await waitForPages(app, { v10: 5, v11: 2 }, { v10: 5, v11: 2 })).toBeLessThan(LEAVES_MS)

    // The tab holding the stream closes: the next one takes over, and no page still open is lost.
    await v10.shift()!.close()
    expect(await waitForPages(app, { v10: 4, v11: 2 }, { v10: 4, v11: 2 })).toBeLessThan(LEAVES_MS)
    await waitForStreams(sidecar().url, app, 1)
  }, 60_000)

  it('keeps wait-drained waiting while one page of the version is open, and lets it finish once it closes', async () => {
    const app = 'drain-tabs'
    const src = `${sidecar().url}/client.js`
    const { url } = await serve({
      '/': appPage({ client: { src, version: 'v10', app } }),
      '/v11': appPage({ client: { src, version: 'v11', app } }),
    })
    const context = await browser.newContext()
    // The stream is held by a v11 tab, so the v10 tabs are all followers.
    const v11 = [await browser.open(`${url}/v11`, context), await browser.open(`${url}/v11`, context)]
    const v10 = [await browser.open(`${url}/`, context), await browser.open(`${url}/`, context)]
    await waitForPages(app, { v10: 2, v11: 2 })

    const cli = startCli(
      [
        'wait-drained',
        '--url',
        sidecar().url,
        '--app',
        app,
        '--version',
        'v10',
        '--timeout',
        '30s',
        '--interval',
        '200ms',
      ],
      {},
      40_000,
    )
    await cli.printed(/waiting: 2 open pages still run version "v10"\n/)
    await v10.pop()!.close()
    await cli.printed(/waiting: 1 open page still runs version "v10"\n/)
    // It saw the last v10 page and kept waiting.
    await waitForPages(app, { v10: 1, v11: 2 })
    expect(cli.child.exitCode).toBe(null)

    await v10.pop()!.close()
    const closed = Date.now()
    const exit = await cli.exited
    expect(exit.code).toBe(0)
    expect(exit.stdout).toBe(`deploy-notify: drained: no open page of app "${app}" runs version "v10"\n`)
    expect(Date.now() - closed).toBeLessThan(LEAVES_MS + 500) // and one --interval
    expect(v11).toHaveLength(2)
  }, 60_000)
})
