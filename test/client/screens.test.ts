import type { Page } from 'playwright-core'
import { describe, expect, it } from 'vitest'
import {
  banner,
  laterButton,
  reloadButton,
  screenshot,
  skipBrowserTests,
  updates,
  useBrowser,
  waitForUpdates,
} from '../helpers/browser.js'
import { notify } from '../helpers/http.js'
import { appPage, useAppServers } from '../helpers/pages.js'
import { useSidecar } from '../helpers/sidecar.js'
import { release, versionFile } from './releases.js'
import { waitForStreams } from './sidecars.js'

const LONG_URL = `https://status.example.com/incidents/2026-11-30/${'release-notes-'.repeat(12)}details`

// The banner on every screen, and what a page configured wrongly or quietly gets.
describe.skipIf(skipBrowserTests)('the banner on every screen', () => {
  const browser = useBrowser()
  const serve = useAppServers()
  const sidecar = useSidecar({ RETRY_MS: '200' })

  /** A v1 page whose origin serves v2, with the client's tag as written (extra attributes included). */
  async function openV1(app: string, attributes = '', lang = 'en', width = 1024): Promise<Page> {
    const tag = `<script src="${sidecar().url}/client.js" data-app="${app}" data-version="v1" ${attributes} defer></script>`
    const site = await serve({ ...release('v1', { lang, body: tag }), '/version.json': versionFile('v2') })
    const context = await browser.newContext()
    await context.pages()[0]?.close()
    const page = await browser.newPage(context)
    await page.setViewportSize({ width, height: 700 })
    await page.goto(`${site.url}/`)
    return page
  }

  /** Whether `locator`'s box lies inside the viewport. */
  const inside = async (page: Page, name: 'Reload' | 'Later'): Promise<boolean> => {
    const box = await page.getByRole('button', { name, exact: true }).boundingBox()
    const { width, height } = page.viewportSize()!
    return !!box && box.x >= 0 && box.y >= 0 && box.x + box.width <= width && box.y + box.height <= height
  }

  it.each([390, 320])('fits a %i px screen with a long URL in the message', async (width) => {
    const app = `screens-${width}`
    const page = await openV1(app, '', 'en', width)
    await waitForStreams(sidecar().url, app, 1)
    await notify(sidecar().url, { app, version: 'v2', message: `Read what changed: ${LONG_URL}` })
    await banner(page).waitFor({ timeout: 5000 })
    await screenshot(page, `banner-${width}px-long-url`)
    const box = await banner(page).boundingBox()
    expect(box!.x).toBeGreaterThanOrEqual(0)
    expect(box!.x + box!.width).toBeLessThanOrEqual(width)
    expect(await inside(page, 'Reload')).toBe(true)
    expect(await inside(page, 'Later')).toBe(true)
    await laterButton(page).click()
    await banner(page).waitFor({ state: 'hidden', timeout: 2000 })
  })

  it('sits at the top with data-position="top", and Escape means Later', async () => {
    const app = 'screens-top'
    const page = await openV1(app, 'data-position="top"')
    await waitForStreams(sidecar().url, app, 1)
    await notify(sidecar().url, { app, version: 'v2' })
    await banner(page).waitFor({ timeout: 5000 })
    expect((await banner(page).boundingBox())!.y).toBeLessThan(50)
    await page.keyboard.press('Escape')
    await banner(page).waitFor({ state: 'hidden', timeout: 2000 })
    expect(await page.evaluate(() => localStorage.getItem('deploy-notify:screens-top'))).toBe('v2')
  })

  it('keeps a mandatory banner on Escape', async () => {
    const app = 'screens-mandatory'
    const page = await openV1(app)
    await waitForStreams(sidecar().url, app, 1)
    await notify(sidecar().url, { app, version: 'v2', mandatory: true })
    await banner(page).waitFor({ timeout: 5000 })
    await page.keyboard.press('Escape')
    await reloadButton(page).click({ trial: true })
    expect(await banner(page).count()).toBe(1)
  })

  it('speaks English to zh-TW, which has no text of its own', async () => {
    const app = 'screens-zh-tw'
    const page = await openV1(app, '', 'zh-TW')
    await waitForStreams(sidecar().url, app, 1)
    await notify(sidecar().url, { app, version: 'v2' })
    await banner(page).getByText('A new version is available.').waitFor({ timeout: 5000 })
    expect(await laterButton(page).count()).toBe(1)
  })

  it.each([
    { what: 'no data-version', attribute: '' },
    { what: 'an empty data-version', attribute: 'data-version=""' },
    { what: 'data-version="undefined"', attribute: 'data-version="undefined"' },
  ])('with $what: one console error naming it, no stream, no banner', async ({ attribute }) => {
    const app = 'screens-missing'
    const tag = `<script src="${sidecar().url}/client.js" data-app="${app}" ${attribute} defer></script>`
    // Not stamped: the stamp would have set it.
    const site = await serve({ '/': appPage({ version: 'v1', body: tag }), '/version.json': versionFile('v2') })
    const page = await browser.newPage()
    const errors: string[] = []
    page.on(
      'console',
      (message) =>
        void (message.type() === 'error' && /deploy-notify/.test(message.text()) && errors.push(message.text())),
    )
    browser.allowError(page, /data-version/)
    const requests: string[] = []
    page.on('request', (request) => requests.push(new URL(request.url()).pathname))
    await page.goto(`${site.url}/`)
    await page.waitForFunction(() => document.readyState === 'complete')
    await notify(sidecar().url, { app, version: 'v2' })
    await expect.poll(() => errors.length, { timeout: 3000 }).toBe(1)
    expect(errors[0]).toMatch(/^deploy-notify: data-version is (undefined|""|"undefined")$/)
    expect(requests).not.toContain('/events')
    expect(await updates(page)).toEqual([])
  })

  it('with data-ui="none", reload() from the event is guarded against a stale cache', async () => {
    const app = 'screens-none'
    // The app reloads as soon as it hears of an update; the cache keeps serving the v1 page.
    const listener = `<script>addEventListener('deploy-notify:update', (e) => e.detail.reload())</script>`
    const page = await openV1(app, `data-ui="none"></script>${listener}<script hidden`)
    await waitForStreams(sidecar().url, app, 1)
    const loads: number[] = []
    page.on('load', () => loads.push(Date.now()))
    await notify(sidecar().url, { app, version: 'v2' })
    await page.waitForEvent('load', { timeout: 6000 })
    // Told of v2 again after the reload, it does not fire again, so it cannot loop.
    await waitForStreams(sidecar().url, app, 1)
    const again = await waitForUpdates(page, 1, 2500).then(
      () => true,
      () => false,
    )
    expect(again).toBe(false)
    expect(loads).toHaveLength(1)
  })
})
