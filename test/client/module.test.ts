import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { skipBrowserTests, useBrowser } from '../helpers/browser.js'
import { notify } from '../helpers/http.js'
import { appPage, builtModule, useAppServers, type AppServer } from '../helpers/pages.js'
import { deployTo, release, versionFile } from './releases.js'
import { startTestSidecar, type TestSidecar } from '../helpers/sidecar.js'

/** What the page below exposes: the notifier, and what its callbacks saw. */
interface ModulePage {
  notifier: { check(href?: string): Promise<boolean>; reload(): Promise<void> }
  updates: { deploy?: { version: string }; reason: string }[]
  currents: { version: string }[]
  allowReload: boolean
  /** Set by the test: gone once the document is replaced. */
  marker?: string
}

/** Runs `action` in the page, which navigates away meanwhile (so its context may vanish). */
const navigating = (page: Page, action: () => void): Promise<void> => page.evaluate(action).catch(() => {})

// The module entry as an app imports it (`deploy-notify/client`), bundled into its own assets.
describe.skipIf(skipBrowserTests)('the module API', () => {
  const browser = useBrowser()
  const serve = useAppServers()
  let sidecar: TestSidecar

  beforeAll(async () => {
    sidecar = await startTestSidecar()
  })
  afterAll(async () => {
    await sidecar?.close()
  })

  /** A v1 page that creates a notifier (not started) with callbacks in code. */
  async function modulePage(app: string): Promise<{ site: AppServer; page: Page }> {
    const script = `<script type="module">
import { createNotifier } from '/assets/deploy-notify.js'
Object.assign(window, { updates: [], currents: [], allowReload: false })
window.notifier = createNotifier({
  version: 'v1',
  url: ${JSON.stringify(sidecar.url)},
  app: ${JSON.stringify(app)},
  ui: 'none',
  onUpdate: (update) => window.updates.push(update),
  onCurrent: (deploy) => window.currents.push(deploy),
  beforeReload: () => window.allowReload,
})
</script>`
    const site = await serve(
      release(
        'v1',
        { body: script },
        {
          '/settings': appPage({ version: 'v2', body: '<p>settings of v2</p>' }),
          ...(await builtModule('/assets')),
        },
      ),
    )
    const page = await browser.open(`${site.url}/`)
    await page.waitForFunction(() => 'notifier' in window)
    return { site, page }
  }

  it('check() tells whether the page is out of date, through the callbacks', async () => {
    const app = 'module-check'
    await notify(sidecar.url, { app, version: 'v1' })
    const { site, page } = await modulePage(app)

    expect(await page.evaluate(() => (window as unknown as ModulePage).notifier.check())).toBe(false)
    expect(await page.evaluate(() => (window as unknown as ModulePage).currents.map((c) => c.version))).toEqual(['v1'])

    deployTo(site, { '/version.json': versionFile('v2') })
    await notify(sidecar.url, { app, version: 'v2' })
    expect(await page.evaluate(() => (window as unknown as ModulePage).notifier.check())).toBe(true)
    expect(await page.evaluate(() => (window as unknown as ModulePage).updates)).toMatchObject([
      { reason: 'deploy', deploy: { version: 'v2' } },
    ])
  })

  it('check(href) that finds an update navigates there with a full load (a router guard)', async () => {
    const app = 'module-guard'
    await notify(sidecar.url, { app, version: 'v2' })
    const { site, page } = await modulePage(app)
    deployTo(site, { '/version.json': versionFile('v2') })

    // The old bundle cannot load the new route's chunks: the guard hands the route to a full load.
    await Promise.all([
      page.waitForEvent('load', { timeout: 5000 }),
      navigating(page, () => void (window as unknown as ModulePage).notifier.check('/settings')),
    ])
    expect(new URL(page.url()).pathname).toBe('/settings')
    await page.getByText('settings of v2').waitFor({ timeout: 1000 })
    expect(site.requests('/settings')).toBe(1)
  })

  it('reload() asks beforeReload, which can keep the page (an unsaved form)', async () => {
    const app = 'module-veto'
    const { page } = await modulePage(app)
    await page.evaluate(() => ((window as unknown as ModulePage).marker = 'unsaved form'))

    await page.evaluate(() => (window as unknown as ModulePage).notifier.reload())
    // reload() has returned, and this is still the same document.
    expect(await page.evaluate(() => (window as unknown as ModulePage).marker)).toBe('unsaved form')

    await page.evaluate(() => ((window as unknown as ModulePage).allowReload = true))
    await Promise.all([
      page.waitForEvent('load', { timeout: 5000 }),
      navigating(page, () => void (window as unknown as ModulePage).notifier.reload()),
    ])
    expect(await page.evaluate(() => (window as unknown as ModulePage).marker)).toBeUndefined()
  })
})
