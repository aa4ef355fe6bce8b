import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Page } from 'playwright-core'
import { describe, expect, it } from 'vitest'
import { banner, reloadButton, skipBrowserTests, updates, useBrowser, waitForUpdates } from '../helpers/browser.js'
import { openHiddenCapableTab } from '../helpers/hidden-tab.js'
import { until } from '../helpers/http.js'
import { findNginx } from '../helpers/nginx.js'
import { useStaticSite } from '../helpers/static-site.js'

const nginxBinary = findNginx()
if (!nginxBinary && !process.env.CI) {
  console.warn(
    '\n!!! nginx not found: SKIPPING test/client/static.test.ts (set NGINX=/path/to/nginx; CI fails instead) !!!\n',
  )
}

/** test/fixtures/static-tag-app: a Vite app whose only deploy-notify config is `sidecar: 'none'`. */
const ROOT = fileURLToPath(new URL('../fixtures/static-tag-app/', import.meta.url))
const POLL_MS = 500

/** How many times the access log shows `path` asked for, and how many of those were answered 304. */
async function asked(log: () => Promise<string[]>, path: string): Promise<{ all: number; notModified: number }> {
  const lines = (await log()).filter((line) => line.startsWith(`GET ${path}`))
  return { all: lines.length, notModified: lines.filter((line) => line.endsWith(' 304')).length }
}

/** Resolves once the access log shows `count` more requests for version.json than `before`. */
const polled = (log: () => Promise<string[]>, before: number, count: number, timeoutMs = 5000) =>
  until(
    async () => (await asked(log, '/version.json')).all >= before + count,
    `${count} requests for version.json`,
    timeoutMs,
  )

// The script tag on a static host, as the Vite plugin builds it with `sidecar: 'none'`, behind
// the project's nginx.conf: no sidecar runs (nginx's upstream is a closed port).
describe.skipIf(skipBrowserTests || (!nginxBinary && !process.env.CI))('the client with no sidecar', () => {
  const browser = useBrowser()
  // Built in this order, so each version.json is newer than the one before.
  const site = useStaticSite(nginxBinary ?? 'nginx', ROOT, {
    v1: { APP_VERSION: 'v1', VITE_POLL_INTERVAL: String(POLL_MS) },
    'v1-slow': { APP_VERSION: 'v1', VITE_POLL_INTERVAL: '600000' },
    v2: { APP_VERSION: 'v2', VITE_POLL_INTERVAL: String(POLL_MS) },
    // The rollback to v1, announced by building it again: a newer build of an older version.
    'v1-again': { APP_VERSION: 'v1', VITE_POLL_INTERVAL: String(POLL_MS) },
  })

  /** Opens the live build's page and waits until it has polled once. */
  const openPolled = async (path = '/'): Promise<Page> => {
    const before = (await asked(site().accessLog, '/version.json')).all
    const page = await browser.open(`${site().url}${path}`)
    await polled(site().accessLog, before, 1)
    return page
  }

  it('sees a deploy by the timer, with conditional requests for version.json, and Reload brings it', async () => {
    await site().deploy('v1')
    const page = await openPolled()
    const { all } = await asked(site().accessLog, '/version.json')
    await polled(site().accessLog, all, 2)
    // Revalidated, never refetched in full or with a query that would pass a CDN's cache.
    const requests = (await site().accessLog()).filter((line) => line.includes('/version.json'))
    expect(requests.every((line) => line.startsWith('GET /version.json HTTP'))).toBe(true)
    expect((await asked(site().accessLog, '/version.json')).notModified).toBeGreaterThan(0)

    await site().deploy('v2')
    await banner(page).waitFor({ timeout: 3000 })
    expect(await updates(page)).toMatchObject([{ reason: 'deploy', deploy: { version: 'v2' } }])
    await Promise.all([page.waitForEvent('load'), reloadButton(page).click()])
    await page.getByRole('heading', { name: 'site v2' }).waitFor({ timeout: 3000 })
  })

  it('polls once per browser however many tabs are open', async () => {
    await site().deploy('v1')
    const context = await browser.newContext()
    const pages: Page[] = []
    for (let i = 0; i < 4; i++) pages.push(await browser.open(`${site().url}/`, context))
    // Past the checks each tab makes as it opens and gets focus.
    await new Promise((resolve) => setTimeout(resolve, 1000))
    const before = (await asked(site().accessLog, '/version.json')).all
    const windowMs = 3000
    await new Promise((resolve) => setTimeout(resolve, windowMs))
    const during = (await asked(site().accessLog, '/version.json')).all - before
    // One poller: about windowMs / POLL_MS (6); four would ask about 24 times.
    expect(during).toBeGreaterThanOrEqual(3)
    expect(during).toBeLessThanOrEqual(windowMs / POLL_MS + 2)

    await site().deploy('v2')
    // What the one poller found reaches every tab.
    for (const page of pages) await banner(page).waitFor({ timeout: 3000 })
  })

  it('asks nothing while the tab is hidden, and sees a deploy when it comes back', async () => {
    await site().deploy('v1-slow')
    const tab = await openHiddenCapableTab(await browser.browserSession(), `${site().url}/`)
    try {
      await tab.hide()
      const before = await asked(site().accessLog, '/version.json')
      await site().deploy('v2')
      await new Promise((resolve) => setTimeout(resolve, 1500))
      expect((await asked(site().accessLog, '/version.json')).all).toBe(before.all)

      // The timer is ten minutes: only the return can find it.
      await tab.show()
      await until(
        () =>
          tab.evaluate<boolean>(
            `!!document.querySelector('deploy-notify')?.shadowRoot?.querySelector('[role=status]')`,
          ),
        'the banner after the tab came back',
      )
      expect(tab.errors).toEqual([])
    } finally {
      await tab.close()
    }
  })

  it('sees a deploy when a file of the old build fails to load', async () => {
    await site().deploy('v1-slow')
    const page = await browser.open(`${site().url}/`)
    await site().deploy('v2')
    // The old build's report chunk is gone from the live files: nginx answers 404.
    browser.allowError(page, /report/)
    await page.getByRole('button', { name: 'Open the report' }).click()
    await page.getByText('The report could not be loaded.').waitFor()
    await banner(page).waitFor({ timeout: 3000 })
    expect(await updates(page)).toMatchObject([{ reason: 'broken' }])
  })

  it('never offers an older build (a lagging version.json), and offers a rollback built again', async () => {
    await site().deploy('v2')
    const page = await openPolled()
    // An edge that still serves the older build, for several polls and a failed file.
    await site().deploy('v1')
    const { all } = await asked(site().accessLog, '/version.json')
    await polled(site().accessLog, all, 3)
    browser.allowError(page, /report/)
    await page.getByRole('button', { name: 'Open the report' }).click()
    await page.getByText('The report could not be loaded.').waitFor()
    await polled(site().accessLog, all, 6)
    expect(await updates(page)).toEqual([])
    expect(await banner(page).count()).toBe(0)

    // The rollback, announced: v1 built again, newer than the page's build.
    await site().deploy('v1-again')
    const [update] = await waitForUpdates(page, 1, 3000)
    // As news from version.json, or as what the failed file's look finds now: either way, v1.
    expect(update).toMatchObject({ version: 'v1' })
    await banner(page).waitFor({ timeout: 1000 })
  })

  const sidecars = [
    { what: 'is down (connection refused)', url: () => `http://127.0.0.1:${site().closedPort}` },
    { what: 'answers 404', url: () => `${site().url}/assets/no-sidecar` },
    { what: "is the app's own origin with an SPA fallback (index.html)", url: () => `${site().url}/app` },
  ]
  it.each(sidecars)(
    'falls back to version.json when the named sidecar $what: backs off, warns once',
    { timeout: 30_000 },
    async ({ url }) => {
      await site().deploy('v1')
      const dataUrl = url()
      // The same build, with a sidecar named where none answers.
      const html = await readFile(join(site().folder('v1'), 'index.html'), 'utf8')
      await writeFile(join(site().folder('v1'), 'named.html'), html.replace('data-url="none"', `data-url="${dataUrl}"`))
      const page = await browser.newPage()
      const warnings: string[] = []
      page.on('console', (message) => void (message.type() === 'warning' && warnings.push(message.text())))
      const attempts: number[] = []
      page.on('request', (request) => void (request.url().includes('/events') && attempts.push(Date.now())))
      await page.goto(`${site().url}/named.html`)

      // The stream fails and fails: each attempt comes later than the one before.
      await until(() => attempts.length >= 4, 'four stream attempts', 10_000)
      const gaps = attempts.slice(1, 4).map((at, i) => at - attempts[i]!)
      expect(gaps[0]).toBeGreaterThanOrEqual(450)
      expect(gaps[1]).toBeGreaterThanOrEqual(950)
      expect(gaps[2]).toBeGreaterThanOrEqual(1950)

      await site().deploy('v2')
      await banner(page).waitFor({ timeout: 3000 })
      expect(await updates(page)).toMatchObject([{ reason: 'deploy', deploy: { version: 'v2' } }])
      const ours = warnings.filter((text) => text.startsWith('deploy-notify:'))
      expect(ours).toHaveLength(1)
      expect(ours[0]).toContain(dataUrl)
      expect(ours[0]).not.toMatch(/<|doctype/i)
    },
  )
})
