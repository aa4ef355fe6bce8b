import type { Page } from 'playwright-core'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { banner, skipBrowserTests, updates, useBrowser, waitForUpdates } from '../helpers/browser.js'
import { notify } from '../helpers/http.js'
import { useAppServers, type AppServer, type ClientTag } from '../helpers/pages.js'
import { startTestSidecar, type TestSidecar } from '../helpers/sidecar.js'
import { deployTo, release } from './releases.js'
import { deploy, startFakeSidecar, type FakeSidecar } from './sidecars.js'

/** A button the test clicks, running `action` in the page as the app's own code would. */
const button = (label: string, action: string): string =>
  `<button id="act">${label}</button>\n<script type="module">document.getElementById('act').addEventListener('click', () => { ${action} })</script>`

// The moments the client checks without being told: a bundle that can no longer load its own
// parts (the deploy happened, CI has not notified yet), and a return to the tab.
describe.skipIf(skipBrowserTests)('checks', () => {
  const browser = useBrowser()
  const serve = useAppServers()
  let sidecar: TestSidecar
  const fakes: FakeSidecar[] = []

  beforeAll(async () => {
    sidecar = await startTestSidecar({ RETRY_MS: '200' })
  })
  afterEach(async () => {
    await Promise.all(fakes.splice(0).map((fake) => fake.close()))
  })
  afterAll(async () => {
    await sidecar?.close()
  })

  const client = (app: string, extra: Partial<ClientTag> = {}): ClientTag => ({
    src: `${sidecar.url}/client.js`,
    version: 'BUILD_VERSION',
    app,
    ...extra,
  })

  /** The build's entry file, which puts the build's own files under /assets/. */
  const ENTRY = { '/assets/index-abc.js': 'document.body.dataset.app = "started"\n' }
  const entryTag = '<script type="module" src="/assets/index-abc.js"></script>'

  /** Resolves with the next `/version` request the page makes to the sidecar. */
  const nextCheck = (page: Page, app: string) =>
    page.waitForRequest((request) => request.url() === `${sidecar.url}/version?app=${app}`, { timeout: 3000 })

  it('shows the banner at once when a lazy chunk fails after a deploy, before any notify', async () => {
    const app = 'checks-chunk'
    const site: AppServer = await serve(
      release(
        'v1',
        {
          client: client(app),
          body: entryTag + button('Open settings', "import('/assets/chunk-abc.js').then((m) => m.open())"),
        },
        { ...ENTRY, '/assets/chunk-abc.js': 'export function open() { document.body.append("settings") }\n' },
      ),
    )
    const page = await browser.open(`${site.url}/`)
    // The app's own import() goes unhandled, as in most apps; that error is the page's, not the client's.
    browser.allowError(page, /Failed to fetch dynamically imported module/)

    // The deploy replaced the assets; the old chunk is gone. The sidecar knows of no new version yet.
    deployTo(site, release('v2', { client: client(app) }, { '/assets/chunk-abc.js': 404 }))
    const checked = nextCheck(page, app)
    await page.getByRole('button', { name: 'Open settings' }).click()
    await banner(page).waitFor({ timeout: 3000 })
    expect(await updates(page)).toMatchObject([{ reason: 'broken', version: 'v2' }])
    await checked
  })

  it.each([
    {
      what: 'a same-origin script',
      action: "document.head.append(Object.assign(document.createElement('script'), { src: '/assets/old-abc.js' }))",
    },
    {
      what: 'a same-origin stylesheet',
      action:
        "document.head.append(Object.assign(document.createElement('link'), { rel: 'stylesheet', href: '/assets/old-abc.css' }))",
    },
    {
      what: "Vite's preload error",
      action:
        "const e = new Event('vite:preloadError', { cancelable: true }); e.payload = new Error('Unable to preload CSS for /assets/old-abc.css'); dispatchEvent(e)",
    },
    {
      what: "webpack's ChunkLoadError",
      action:
        "Promise.reject(Object.assign(new Error('Loading chunk 42 failed. (error: /assets/42.js)'), { name: 'ChunkLoadError' }))",
      pageError: /Loading chunk 42 failed/,
    },
  ])('shows the banner at once when $what fails', async ({ action, pageError }) => {
    const app = 'checks-broken'
    const site = await serve(release('v1', { client: client(app), body: entryTag + button('Break', action) }, ENTRY))
    const page = await browser.open(`${site.url}/`)
    if (pageError) browser.allowError(page, pageError)
    deployTo(site, release('v2', { client: client(app) }))

    const checked = nextCheck(page, app)
    await page.getByRole('button', { name: 'Break' }).click()
    await banner(page).waitFor({ timeout: 3000 })
    expect(await updates(page)).toMatchObject([{ reason: 'broken' }])
    await checked
  })

  it('ignores a script of another origin that fails', async () => {
    const app = 'checks-foreign'
    // A third-party widget that is down says nothing about this app's bundle.
    const action = `const s = document.createElement('script'); s.src = '${sidecar.url}/widget-gone.js'; s.onerror = () => document.body.dataset.widget = 'failed'; document.head.append(s)`
    const site = await serve(release('v1', { client: client(app), body: button('Load widget', action) }))
    const page = await browser.open(`${site.url}/`)

    await page.getByRole('button', { name: 'Load widget' }).click()
    // The client listens while capturing, so it has seen the error before the page's own handler.
    await page.waitForFunction(() => document.body.dataset.widget === 'failed')
    deployTo(site, release('v2', { client: client(app) }))
    await notify(sidecar.url, { app, version: 'v2', message: 'a real deploy' })
    await banner(page).getByText('a real deploy').waitFor({ timeout: 5000 })
    expect((await updates(page)).map((u) => u.reason)).toEqual(['deploy'])
  })

  it.each([
    {
      moment: 'the network comes back (online)',
      trigger: async (page: Page) => {
        await page.context().setOffline(true)
        await page.waitForFunction(() => !navigator.onLine)
        await page.context().setOffline(false)
      },
    },
    {
      moment: 'the tab becomes visible (visibilitychange)',
      // As the browser fires it: at the document, bubbling to the window.
      trigger: (page: Page) =>
        page.evaluate(() => void document.dispatchEvent(new Event('visibilitychange', { bubbles: true }))),
    },
    {
      moment: 'the window gets focus',
      trigger: (page: Page) => page.evaluate(() => void dispatchEvent(new FocusEvent('focus'))),
    },
  ])('checks /version when $moment', async ({ trigger }) => {
    const app = 'checks-return'
    // A stream that delivers nothing: only a check can find the deploy.
    const fake = await startFakeSidecar(['stream'])
    fakes.push(fake)
    const site = await serve(release('v1', { client: client(app, { url: fake.url }) }))
    const page = await browser.open(`${site.url}/`)
    await fake.requested('/events', 1, 3000)

    deployTo(site, release('v2', { client: client(app, { url: fake.url }) }))
    fake.setCurrent(deploy(app, 'v2', 'missed while away'), { stream: false })
    await trigger(page)
    await banner(page).getByText('missed while away').waitFor({ timeout: 3000 })
    expect(await waitForUpdates(page, 1)).toMatchObject([{ reason: 'deploy', deploy: { version: 'v2' } }])
  })
})
