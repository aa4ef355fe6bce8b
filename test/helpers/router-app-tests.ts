import { existsSync } from 'node:fs'
import type { Page } from 'playwright-core'
import { describe, expect, it } from 'vitest'
import { CHROMIUM, useBrowser, watchStream } from './browser.js'
import { useDeployedApp, type AppBuilds } from './deployed-app.js'
import { findNginx } from './nginx.js'

const nginxBinary = findNginx()
const missing = [...(nginxBinary ? [] : ['nginx']), ...(existsSync(CHROMIUM) ? [] : [`chromium (${CHROMIUM})`])]
const skip = missing.length > 0 && !process.env.CI
if (skip)
  console.warn(`\n!!! ${missing.join(' and ')} not found: SKIPPING the router app tests (CI fails instead) !!!\n`)

export interface RouterApp {
  /** The build environment besides APP_VERSION (VITE_ROUTER=hash). */
  env?: Record<string, string>
  /** Where the app's home and its Orders route are, as the router writes them (`/shop/orders`, `/#/orders`). */
  home: string
  orders: string
  /** Only the tests where the router's URLs matter (another mode of an app tested in full already). */
  urlsOnly?: boolean
}

/** Counts the page's document loads (the first one included): a full load is one more. */
function countLoads(page: Page): () => number {
  let loads = 0
  page.on('request', (request) => {
    if (request.isNavigationRequest() && request.frame() === page.mainFrame()) loads++
  })
  return () => loads
}

/**
 * The user-visible promises of a router integration, on a real app built at v1 and v2 (its
 * Orders route is a lazy chunk that a deploy removes), served through nginx.conf.
 */
export function describeRouterApp(
  title: string,
  builds: Omit<AppBuilds, 'builds'>,
  { env = {}, home, orders, urlsOnly = false }: RouterApp,
) {
  describe.skipIf(skip)(title, () => {
    if (missing.length > 0) throw new Error(`${missing.join(' and ')} required in CI`)
    const browser = useBrowser()
    const deployed = useDeployedApp(nginxBinary!, {
      ...builds,
      builds: { v1: { ...env, APP_VERSION: 'v1' }, v2: { ...env, APP_VERSION: 'v2' } },
    })
    const version = (page: Page) => page.getByTestId('version').textContent()
    const ordersOf = (page: Page, v: string) => page.getByRole('heading', { name: `Orders of version ${v}` })
    const prompt = (page: Page) => page.getByRole('alert')

    /** A page of v1 that the sidecar has told it is current. */
    async function openCurrentV1(): Promise<{ page: Page; loads: () => number }> {
      const app = deployed()
      await app.deploy('v1')
      await app.notify('v1')
      const page = await browser.newPage()
      const loads = countLoads(page)
      // The sidecar has nothing to tell a page that runs its current version; the open stream is the sign.
      const streaming = page.waitForResponse((response) => response.url().includes('/deploy-notify/events'))
      // The module fetches its on-demand part (the bundler's chunk of this build) soon after the
      // start, as it has long before a deploy removes the build's files.
      const onDemand = page.waitForResponse((response) => /\/assets\/ui-[\w-]+\.js$/.test(response.url()))
      await page.goto(`${app.url}${home}`)
      expect((await streaming).status()).toBe(200)
      expect((await onDemand).status()).toBe(200)
      expect(await version(page)).toBe('v1')
      return { page, loads }
    }

    it('a fresh visitor in the deploy window: the page loads once and its route renders', async () => {
      const app = deployed()
      await app.deploy('v1')
      await app.notify('v1')
      await app.deploy('v2') // CI has not notified yet
      const page = await browser.newPage()
      const loads = countLoads(page)
      const stream = await watchStream(page)
      await page.goto(`${app.url}${orders}`)
      await ordersOf(page, 'v2').waitFor()
      // The client has been told v1 and handled it (events are handled in order): no second load came of it.
      await stream.next('version', 'v1')
      await page.getByRole('link', { name: 'Home' }).waitFor()
      expect(loads()).toBe(1)
      expect(await version(page)).toBe('v2')
      // The page is newer than the sidecar knows: nothing to offer, and a click stays in the app.
      expect(await prompt(page).count()).toBe(0)
      await page.getByRole('link', { name: 'Home' }).click()
      await page.getByRole('heading', { name: 'Home' }).waitFor()
      expect(loads()).toBe(1)
    })

    it('a pending update: the prompt shows, and the next link click is one full load of the target at v2', async () => {
      const app = deployed()
      const { page, loads } = await openCurrentV1()
      await app.deploy('v2')
      await app.notify('v2', 'Orders got faster')
      await prompt(page).getByText('Orders got faster').waitFor()

      await page.getByRole('link', { name: 'Orders' }).click()
      await ordersOf(page, 'v2').waitFor()
      expect(page.url()).toBe(`${app.url}${orders}`)
      expect(await version(page)).toBe('v2')
      expect(loads()).toBe(2)
    })

    it.skipIf(urlsOnly)("the app's own prompt: Not now hides it, Update now brings v2", async () => {
      const app = deployed()
      const { page } = await openCurrentV1()
      const { page: other } = await openCurrentV1()
      await app.deploy('v2')
      await app.notify('v2', 'New search')
      await prompt(page).getByText('New search').waitFor()
      await page.getByRole('button', { name: 'Not now' }).click()
      await prompt(page).waitFor({ state: 'detached' })

      await prompt(other).getByText('New search').waitFor()
      await Promise.all([other.waitForEvent('load'), other.getByRole('button', { name: 'Update now' }).click()])
      expect(await version(other)).toBe('v2')
      expect(await prompt(other).count()).toBe(0)
    })

    it.skipIf(urlsOnly)('a stalled sidecar delays a click by at most about 2 s', async () => {
      const app = deployed()
      const { page, loads } = await openCurrentV1()
      const resume = app.stall()
      try {
        const start = Date.now()
        await page.getByRole('link', { name: 'Orders' }).click()
        await ordersOf(page, 'v1').waitFor({ timeout: 5000 })
        const waited = Date.now() - start
        // The check's 2 s bound, plus the click and the route's chunk, on a machine that may be busy
        // (before the bound, a stalled sidecar held a click for over 20 s).
        expect(waited).toBeLessThan(4500)
        expect(waited).toBeGreaterThan(1500) // the check was made and waited for, up to its bound
        expect(loads()).toBe(1)
      } finally {
        resume()
      }
    })
  })
}
