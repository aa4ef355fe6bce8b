import type { Page } from 'playwright-core'
import { describe, expect, it } from 'vitest'
import {
  banner,
  reloadButton,
  runningVersion,
  skipBrowserTests,
  updates,
  useBrowser,
  waitForUpdates,
  watchStream,
  type StreamWatch,
} from '../helpers/browser.js'
import { notify, until } from '../helpers/http.js'
import { builtClientFile, useAppServers, type ClientTag } from '../helpers/pages.js'
import { useSidecar } from '../helpers/sidecar.js'
import { deployTo, release, versionFile } from './releases.js'
import { waitForStreams, waitForVersion } from './sidecars.js'

/**
 * The app's service worker, as a build of release `version` ships it: it imports the client's
 * worker side (the `SKIP_WAITING` listener, Workbox's convention) as the README says, and
 * answers "which release are you?" for the test.
 */
const serviceWorker = (version: string): string => `importScripts('/deploy-notify-worker.js')
const VERSION = ${JSON.stringify(version)}
self.addEventListener('message', (event) => {
  if (event.data?.type === 'VERSION') event.ports[0]?.postMessage(VERSION)
})
`

const REGISTER_WORKER = `<script>
navigator.serviceWorker.register('/sw.js')
window.workerVersion = () => new Promise((resolve) => {
  const worker = navigator.serviceWorker.controller
  if (!worker) return resolve(null)
  const channel = new MessageChannel()
  channel.port1.onmessage = (event) => resolve(event.data)
  worker.postMessage({ type: 'VERSION' }, [channel.port2])
})
</script>`

/** The release of the worker that controls the page, or null when none does. */
const workerVersion = (page: Page): Promise<string | null> =>
  page.evaluate(() => (window as unknown as { workerVersion(): Promise<string | null> }).workerVersion())

/** Counts the page's loads from now on. */
function countLoads(page: Page): { readonly count: number } {
  const loads = { count: 0 }
  page.on('load', () => loads.count++)
  return loads
}

describe.skipIf(skipBrowserTests)('Reload', () => {
  const browser = useBrowser()
  const serve = useAppServers()
  const sidecar = useSidecar({ RETRY_MS: '200' })

  const client = (app: string): ClientTag => ({ src: `${sidecar().url}/client.js`, version: 'BUILD_VERSION', app })

  /**
   * A page controlled by worker sw-v1, then a deploy of v2 with worker sw-v2, announced: resolves
   * once the banner shows.
   */
  async function deployNewWorker(app: string): Promise<{ page: Page; stream: StreamWatch }> {
    const site = await serve(
      release(
        'v1',
        { client: client(app), body: REGISTER_WORKER },
        { '/sw.js': serviceWorker('sw-v1'), '/deploy-notify-worker.js': await builtClientFile('worker.js') },
      ),
    )
    const page = await browser.open(`${site.url}/`)
    await page.evaluate(() => navigator.serviceWorker.ready.then(() => undefined))
    // A worker controls the pages loaded after it activated.
    await page.reload()
    expect(await workerVersion(page)).toBe('sw-v1')
    const stream = await watchStream(page)
    await waitForStreams(sidecar().url, app, 1)

    // The deploy: a new index.html, version.json and worker.
    deployTo(site, release('v2', { client: client(app), body: REGISTER_WORKER }, { '/sw.js': serviceWorker('sw-v2') }))
    await notify(sidecar().url, { app, version: 'v2', message: 'new worker inside' })
    await banner(page).getByText('new worker inside').waitFor({ timeout: 5000 })
    return { page, stream }
  }

  /** Clicks Reload and expects one load into v2, controlled by sw-v2, that prompts for nothing. */
  async function reloadIntoNewWorker(page: Page, stream: StreamWatch, app: string): Promise<void> {
    const loads = countLoads(page)
    await Promise.all([page.waitForEvent('load', { timeout: 6000 }), reloadButton(page).click()])
    expect(await runningVersion(page)).toBe('v2')
    expect(await workerVersion(page), 'the worker that controls the reloaded page').toBe('sw-v2')
    // Up to date now: its stream is open, the sidecar has nothing to tell it, it prompts for nothing.
    await waitForVersion(sidecar().url, app, 'v2')
    expect(stream.received.filter((m) => m.type === 'version')).toEqual([])
    expect(await updates(page)).toEqual([])
    expect(loads.count).toBe(1)
  }

  it('activates the waiting service worker, which then controls the page', async () => {
    const { page, stream } = await deployNewWorker('reload-worker')
    // The client asked the registration to update: the new worker installs and waits for the user.
    await until(
      () => page.evaluate(() => navigator.serviceWorker.getRegistration().then((r) => !!r?.waiting)),
      'a waiting worker after the update (the client calls registration.update())',
      5000,
    )
    await reloadIntoNewWorker(page, stream, 'reload-worker')
  })

  it('waits for the new worker when Reload is pressed at once', async () => {
    // The update the client started is still fetching and installing sw-v2 (Chromium takes
    // about two seconds here); Reload waits for it (bounded) rather than reload into sw-v1.
    const { page, stream } = await deployNewWorker('reload-worker-quick')
    await reloadIntoNewWorker(page, stream, 'reload-worker-quick')
  })

  it('loads a link that apply: auto took over through the new worker too', async () => {
    const app = 'reload-worker-link'
    const tag = { ...client(app), apply: 'auto' as const, applySpread: 500 }
    const build = (version: string) => ({
      '/settings': release(version, { client: tag, body: `${REGISTER_WORKER}<p>settings page</p>` })['/'],
      ...release(version, { client: tag, body: `${REGISTER_WORKER}<a href="/settings">Settings</a>` }),
    })
    const site = await serve({
      ...build('v1'),
      '/sw.js': serviceWorker('sw-v1'),
      '/deploy-notify-worker.js': await builtClientFile('worker.js'),
    })
    const page = await browser.open(`${site.url}/`)
    await page.evaluate(() => navigator.serviceWorker.ready.then(() => undefined))
    await page.reload()
    expect(await workerVersion(page)).toBe('sw-v1')
    await waitForStreams(sidecar().url, app, 1)

    deployTo(site, { ...build('v2'), '/sw.js': serviceWorker('sw-v2') })
    await notify(sidecar().url, { app, version: 'v2' })
    await waitForUpdates(page, 1)
    // The old worker would answer the navigation and keep controlling the new page.
    await Promise.all([
      page.waitForEvent('load', { timeout: 6000 }),
      page.getByRole('link', { name: 'Settings' }).click(),
    ])
    await page.getByText('settings page').waitFor()
    expect(await runningVersion(page)).toBe('v2')
    expect(await workerVersion(page), 'the worker that controls the loaded page').toBe('sw-v2')
  })

  /**
   * A page on v1 is told of v2, and Reload lands on v1 again: the origin says v2 (version.json)
   * but index.html never changes, as when a stale cache in front of the app keeps serving the
   * old page.
   */
  async function reloadIntoStalePage(app: string) {
    const site = await serve({ ...release('v1', { client: client(app) }), '/version.json': versionFile('v2') })
    const page = await browser.newPage()
    const stream = await watchStream(page)
    await page.goto(`${site.url}/`)
    await waitForStreams(sidecar().url, app, 1)

    await notify(sidecar().url, { app, version: 'v2', message: 'stale cache ahead' })
    await banner(page).getByText('stale cache ahead').waitFor({ timeout: 5000 })
    const loads = countLoads(page)
    await Promise.all([page.waitForEvent('load', { timeout: 5000 }), reloadButton(page).click()])
    expect(await runningVersion(page)).toBe('v1')
    return { site, page, stream, loads }
  }

  it('reloads once when the new page turns out to be the same old version', async () => {
    const { site, page, stream, loads } = await reloadIntoStalePage('reload-stale')

    // The reloaded page is told about v2 again; it must not reload by itself, now or a little later.
    await stream.next('version', 'v2')
    const another = await page.waitForEvent('load', { timeout: 2500 }).then(
      () => true,
      () => false,
    )
    expect(another, 'the page reloaded again by itself').toBe(false)
    expect(loads.count).toBe(1)
    expect(site.requests('/')).toBe(2)
  })

  it('does not prompt again in the tab for the version it reloaded for', async () => {
    const app = 'reload-stale-prompt'
    const { site, page, stream } = await reloadIntoStalePage(app)

    // Prompting for v2 again would only send the user round the same stale reload.
    await stream.next('version', 'v2')
    site.setFile('/version.json', versionFile('v3'))
    await notify(sidecar().url, { app, version: 'v3', message: 'three' })
    await banner(page).getByText('three').waitFor({ timeout: 5000 })
    expect(
      (await updates(page)).map((u) => u.deploy?.version),
      'prompts of the reloaded page',
    ).toEqual(['v3'])
  })
})
