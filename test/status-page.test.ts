import { mkdir } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'
import type { Locator, Page } from 'playwright-core'
import { request } from 'undici'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { Deploy } from '../contract/deploy.js'
import { MAX_STATUS_STREAMS, MAX_STATUS_STREAMS_PER_ADDRESS, withRecentSamples } from '../server/status-page/streams.js'
import type { Sample, Status } from '../server/status.js'
import { skipBrowserTests, useBrowser } from './helpers/browser.js'
import { getJson, notify, until } from './helpers/http.js'
import { openRawStreams, type RawStream } from './helpers/raw-streams.js'
import { startTestSidecar, type TestSidecar } from './helpers/sidecar.js'

const ARTIFACTS = fileURLToPath(new URL('../test-artifacts/', import.meta.url))

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

/** Opens `count` `/events` streams of `app` that say they run `version`, closed after the test. */
async function pages(app: string, version: string, count: number, on = sidecar): Promise<RawStream[]> {
  const opened = await openRawStreams(on.port, count, `/events?app=${app}&version=${version}`)
  streams.push(...opened)
  return opened
}

interface Frame {
  event?: string
  data?: string
  retry?: string
}

/** Reads `text/event-stream` frames off a response body, each within a bound. */
function frameReader(body: AsyncIterable<Buffer>): (timeoutMs?: number) => Promise<Frame> {
  const chunks = body[Symbol.asyncIterator]()
  let buffer = ''
  return async (timeoutMs = 5000) => {
    const deadline = Date.now() + timeoutMs
    while (!buffer.includes('\n\n')) {
      let timer: NodeJS.Timeout | undefined
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no event within ${timeoutMs} ms`)),
          Math.max(0, deadline - Date.now()),
        )
      })
      const chunk = await Promise.race([chunks.next(), timeout]).finally(() => clearTimeout(timer))
      if (chunk.done) throw new Error('the stream ended')
      buffer += chunk.value.toString()
    }
    const end = buffer.indexOf('\n\n')
    const frame: Frame = {}
    for (const line of buffer.slice(0, end).split('\n')) {
      const colon = line.indexOf(':')
      if (colon <= 0) continue
      const field = line.slice(0, colon) as keyof Frame
      frame[field] = line.slice(colon + 1).replace(/^ /, '')
    }
    buffer = buffer.slice(end + 2)
    return frame
  }
}

describe('GET /', () => {
  it('serves one small public page, revalidated with an ETag, that runs only its own script', async () => {
    const response = await request(`${sidecar.url}/`)
    const html = await response.body.text()
    expect(response.statusCode).toBe(200)
    expect(response.headers['content-type']).toBe('text/html; charset=utf-8')
    expect(response.headers['cache-control']).toBe('no-cache')
    expect(response.headers['content-security-policy']).toMatch(
      /default-src 'none'; script-src 'sha256-[^']+'; style-src 'sha256-[^']+'; connect-src 'self'/,
    )
    expect(html).toMatch(/^<!doctype html>/)
    expect(html).toContain('<meta name="viewport"')
    // Relative, so a sidecar behind a path prefix works.
    // (The script is minified: either quote, no spaces.)
    expect(html).toMatch(/new EventSource\(new URL\(["']status\/events["'], ?location\.href\)\)/)
    expect(gzipSync(html, { level: 9 }).length).toBeLessThanOrEqual(6 * 1024)

    const again = await request(`${sidecar.url}/`, { headers: { 'if-none-match': String(response.headers.etag) } })
    expect(again.statusCode).toBe(304)
    await again.body.dump()
  })
})

describe('GET /status/events', () => {
  it('sends the /status snapshot at connect, then every 2 s and at once on a deploy', async () => {
    await notify(sidecar.url, { app: 'http', version: 'v1', message: 'first' })
    await pages('http', 'v1', 2)
    const response = await request(`${sidecar.url}/status/events`)
    expect(response.statusCode).toBe(200)
    expect(response.headers['content-type']).toBe('text/event-stream; charset=utf-8')
    expect(response.headers['cache-control']).toBe('no-cache')
    expect(response.headers['x-accel-buffering']).toBe('no')
    const next = frameReader(response.body)
    try {
      expect(Number((await next()).retry)).toBeGreaterThanOrEqual(sidecar.config.retryMs)
      const first = await next()
      expect(first.event).toBe('status')
      const status = JSON.parse(first.data ?? '') as Status
      expect(status.apps.http).toMatchObject({
        current: { app: 'http', version: 'v1', message: 'first' },
        history: [{ version: 'v1' }],
        streams: { total: 2, versions: { v1: 2 } },
      })
      // The page shows what /status says.
      expect(status.apps).toEqual((await getJson(`${sidecar.url}/status`)).json.apps)

      const started = Date.now()
      expect((await next(3000)).event).toBe('status')
      expect(Date.now() - started).toBeGreaterThan(1000)

      await notify(sidecar.url, { app: 'http', version: 'v2' })
      const afterDeploy = JSON.parse((await next(1000)).data ?? '') as Status
      expect(afterDeploy.apps.http?.current?.version).toBe('v2')
    } finally {
      response.body.destroy()
    }
  })

  it('repeats only the last minute of samples after the first event', () => {
    const now = Date.parse('2025-01-01T12:00:00Z')
    const samples: Sample[] = [-120_000, -60_000, -10_000].map((dt) => ({ t: now + dt, versions: { v1: 1 } }))
    const status: Status = {
      time: new Date(now).toISOString(),
      apps: {
        web: {
          current: null,
          history: [],
          pages: { total: 1, versions: { v1: 1 } },
          streams: { total: 1, versions: { v1: 1 } },
          samples,
        },
      },
    }
    expect(withRecentSamples(status).apps.web?.samples.map((s) => s.t - now)).toEqual([-60_000, -10_000])
    expect(status.apps.web?.samples).toHaveLength(3)
  })

  it(`refuses more than ${MAX_STATUS_STREAMS} streams with 503 and Retry-After, and frees a place on close`, async () => {
    // From as many loopback addresses as it takes: one address has a bound of its own.
    const open: RawStream[] = []
    for (let i = 0; open.length < MAX_STATUS_STREAMS; i++) {
      const count = Math.min(MAX_STATUS_STREAMS_PER_ADDRESS, MAX_STATUS_STREAMS - open.length)
      open.push(...(await openRawStreams(sidecar.port, count, '/status/events', { localAddress: `127.0.1.${i + 1}` })))
    }
    streams.push(...open)
    const refused = await request(`${sidecar.url}/status/events`)
    expect(refused.statusCode).toBe(503)
    expect(refused.headers['retry-after']).toBe(String(Math.ceil(sidecar.config.retryMs / 1000)))
    expect(await refused.body.json()).toMatchObject({ error: 'DN_ERR_TOO_MANY_STREAMS' })

    open[0]?.socket.destroy()
    await until(async () => {
      const answer = await request(`${sidecar.url}/status/events`)
      answer.body.on('error', () => {}).destroy() // aborting is the point
      return answer.statusCode === 200
    }, 'a place for a new status stream')
  })

  it('ends at once when the app closes', async () => {
    const own = await startTestSidecar()
    const [stream] = await openRawStreams(own.port, 1, '/status/events')
    const started = Date.now()
    await own.close()
    await stream?.ended
    // Well below the 2 s that closing grants requests before it cuts every connection.
    expect(Date.now() - started).toBeLessThan(1500)
  })
})

/** What the summary of an app says, by term. */
function summary(region: Locator): Promise<Record<string, string>> {
  return region
    .locator('dl')
    .evaluate((dl) =>
      Object.fromEntries(
        Array.from(dl.querySelectorAll('dt')).map((dt) => [dt.textContent, dt.nextElementSibling?.textContent ?? '']),
      ),
    )
}

/** The open-pages table: count per version, and the total row. */
function openPagesTable(region: Locator): Promise<{ versions: Record<string, number>; total: number }> {
  return region.getByRole('table', { name: 'Open pages by version' }).evaluate((table) => ({
    versions: Object.fromEntries(
      Array.from(table.querySelectorAll('tbody tr'))
        .filter((row) => row.querySelector('code'))
        .map((row) => [row.querySelector('code')?.textContent, Number(row.querySelector('td')?.textContent)]),
    ),
    total: Number(table.querySelector('tfoot td.n')?.textContent),
  }))
}

/** The recent-deploys table as [version, message] rows. */
function deploys(region: Locator): Promise<string[][]> {
  return region
    .getByRole('table', { name: 'Recent deploys' })
    .evaluate((table) =>
      Array.from(table.querySelectorAll('tbody tr')).map((row) => [
        row.querySelector('code')?.textContent ?? '',
        row.lastElementChild?.textContent ?? '',
      ]),
    )
}

async function screenshot(page: Page, name: string): Promise<void> {
  await mkdir(ARTIFACTS, { recursive: true })
  await page.screenshot({ path: `${ARTIFACTS}${name}.png`, fullPage: true })
}

/** Waits for the chart to be redrawn at the viewport's width (redraws are debounced on resize). */
async function resize(page: Page, width: number, height: number): Promise<void> {
  await page.setViewportSize({ width, height })
  await page.waitForFunction(
    (w) => Array.from(document.querySelectorAll('figure svg')).every((svg) => Number(svg.getAttribute('width')) < w),
    width,
  )
}

/**
 * An hour of a busy app: three deploys, each followed by the previous version draining as its
 * tabs reload. For looking at the chart; the sidecar has no hour to show in a test.
 */
function busyHour(now: number): Status {
  const deployed: Deploy[] = [
    {
      app: 'shop',
      version: 'v43',
      id: '43',
      time: new Date(now - 8 * 60_000).toISOString(),
      message: 'Checkout: faster address lookup',
    },
    {
      app: 'shop',
      version: 'v42',
      id: '42',
      time: new Date(now - 31 * 60_000).toISOString(),
      message: 'Fix the cart badge',
      mandatory: true,
    },
    {
      app: 'shop',
      version: 'v41',
      id: '41',
      time: new Date(now - 52 * 60_000).toISOString(),
      message: 'New product pages',
    },
    { app: 'shop', version: 'v40', id: '40', time: new Date(now - 26 * 3600_000).toISOString() },
  ]
  const counts = (t: number): Record<string, number> => {
    const total = Math.round(46 + 9 * Math.sin(t / 700_000))
    const result: Record<string, number> = {}
    let left = total
    // Older versions drain with a 6-minute time constant after the next deploy.
    for (let i = deployed.length - 1; i > 0; i--) {
      const next = Date.parse(deployed[i - 1]!.time)
      const share = t < next ? 1 : Math.exp(-(t - next) / 360_000)
      const n = Math.min(left, Math.round(left * share))
      if (t >= Date.parse(deployed[i]!.time) && n > 0) result[deployed[i]!.version] = n
      left -= n
    }
    if (left > 0) result.v43 = left
    return result
  }
  const samples: Sample[] = []
  for (let t = now - 3600_000 + 10_000; t <= now; t += 10_000) samples.push({ t, versions: counts(t) })
  const versions = counts(now)
  return {
    time: new Date(now).toISOString(),
    apps: {
      shop: {
        current: deployed[0]!,
        history: deployed,
        pages: { total: Object.values(versions).reduce((a, b) => a + b, 0), versions },
        streams: { total: Object.values(versions).reduce((a, b) => a + b, 0), versions },
        samples,
      },
    },
  }
}

describe.skipIf(skipBrowserTests)('the status page in Chromium', () => {
  const browser = useBrowser()
  // Its own sidecar, so the page shows only this test's app.
  let own: TestSidecar
  beforeAll(async () => {
    own = await startTestSidecar()
  })
  afterAll(async () => {
    await own?.close()
  })

  it('shows the numbers and follows streams and deploys live, on a desktop, in the dark and on a phone', async () => {
    await notify(own.url, { app: 'web', version: 'v1', message: 'First release' })
    const v1 = await pages('web', 'v1', 3, own)
    await pages('web', 'v0', 1, own)

    const page = await browser.open(`${own.url}/`)
    await page.setViewportSize({ width: 1000, height: 800 })
    const web = page.getByRole('region', { name: 'web' })
    await expect
      .poll(() => summary(web))
      .toMatchObject({ 'Current version': 'v1', 'Open pages': '4', Message: 'First release' })
    expect((await summary(web)).Deployed).toMatch(/^(just now|\d+ s ago)$/)
    expect(await openPagesTable(web)).toEqual({ versions: { v1: 3, v0: 1 }, total: 4 })
    expect(await deploys(web)).toEqual([['v1', 'First release']])
    expect(await page.getByRole('status').first().textContent()).toBe('Live')

    // New streams show within one 2 s tick.
    await pages('web', 'v1', 2, own)
    await expect.poll(() => openPagesTable(web), { timeout: 3000 }).toEqual({ versions: { v1: 5, v0: 1 }, total: 6 })

    // A deploy shows at once, not at the next tick.
    await notify(own.url, { app: 'web', version: 'v2', message: 'Second release' })
    await expect
      .poll(() => summary(web), { timeout: 1000 })
      .toMatchObject({ 'Current version': 'v2', Message: 'Second release' })
    expect(await deploys(web)).toEqual([
      ['v2', 'Second release'],
      ['v1', 'First release'],
    ])

    // Three of the v1 pages reload into v2: v1 drains.
    for (const stream of v1) stream.socket.destroy()
    await pages('web', 'v2', 3, own)
    await expect
      .poll(() => openPagesTable(web), { timeout: 3000 })
      .toEqual({ versions: { v2: 3, v1: 2, v0: 1 }, total: 6 })
    await expect(web.getByRole('img', { name: /Now 6: v2 3, v1 2, v0 1\./ }).count()).resolves.toBe(1)
    // Nothing that needs the token is on the page.
    expect(await page.content()).not.toContain(own.config.notifyToken)

    await screenshot(page, 'status-page')
    await page.emulateMedia({ colorScheme: 'dark' })
    await screenshot(page, 'status-page-dark')
    await page.emulateMedia({ colorScheme: 'light' })
    await resize(page, 390, 844)
    // Nothing wider than the phone: no sideways scrolling.
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390)
    await screenshot(page, 'status-page-phone')
  })

  it('draws an hour of old versions draining after each deploy, and says when the counts may miss pages', async () => {
    const context = await browser.newContext()
    const hour = busyHour(Date.now())
    const reason = 'replica web-2/41/9f3a stopped reporting 8 s ago'
    hour.apps.shop = { ...hour.apps.shop!, pagesComplete: false, pagesIncomplete: reason }
    // The stream is replaced by one that sends a made-up hour, the way the sidecar would.
    await context.addInitScript((status: string) => {
      class HourSource extends EventTarget {
        static readonly CLOSED = 2
        readyState = 1
        constructor() {
          super()
          setTimeout(() => {
            this.dispatchEvent(new Event('open'))
            this.dispatchEvent(new MessageEvent('status', { data: status }))
          })
        }
        close(): void {}
      }
      Object.defineProperty(window, 'EventSource', { value: HourSource })
    }, JSON.stringify(hour))
    const page = await browser.open(`${sidecar.url}/`, context)
    await page.setViewportSize({ width: 1000, height: 800 })
    const shop = page.getByRole('region', { name: 'shop' })
    const chart = shop.getByRole('img', {
      name: /^Open pages by version over the last 60 min\. Now \d+: v43 \d+, v42 \d+\./,
    })
    await chart.waitFor()
    // v40 until v41 came, then v41, v42 and v43.
    expect(await chart.locator('path.area').count()).toBe(4)
    expect(await chart.locator('line.deploy').count()).toBe(3)
    expect(await deploys(shop)).toEqual([
      ['v43', 'Checkout: faster address lookup'],
      ['v42', 'Fix the cart badge'],
      ['v41', 'New product pages'],
      ['v40', ''],
    ])
    expect(await shop.getByText(`incomplete: ${reason}`).count()).toBe(1)
    await screenshot(page, 'status-page-hour')
    await page.emulateMedia({ colorScheme: 'dark' })
    await resize(page, 390, 844)
    await screenshot(page, 'status-page-hour-phone-dark')
  })
})
