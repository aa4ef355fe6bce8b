import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  banner,
  currents,
  reloadButton,
  runningVersion,
  skipBrowserTests,
  updates,
  useBrowser,
  waitForCurrents,
} from '../helpers/browser.js'
import { notify } from '../helpers/http.js'
import { findNginx, startNginx, type RunningNginx } from '../helpers/nginx.js'
import type { FileAnswer } from '../helpers/pages.js'
import { startTestSidecar, type TestSidecar } from '../helpers/sidecar.js'
import { release } from './releases.js'
import { waitForStreams, waitForVersion } from './sidecars.js'

const nginxBinary = findNginx()

/** How long the deploy window and the CDN's lag last in these tests. */
const LAG_MS = 3000

// A banner means a newer version exists and Reload brings it: the situations every real deploy
// goes through, with apps stamped by the project's stamp, behind the project's nginx.conf.
describe.skipIf(skipBrowserTests || (!nginxBinary && !process.env.CI))('the banner tells the truth', () => {
  const browser = useBrowser()
  let root: string
  let sidecar: TestSidecar
  let nginx: RunningNginx

  beforeAll(async () => {
    if (!nginxBinary) throw new Error('nginx is required in CI: install it (apt-get install nginx-light) or set NGINX')
    root = await mkdtemp(join(tmpdir(), 'deploy-notify-truth-'))
    sidecar = await startTestSidecar({ RETRY_MS: '200' })
    nginx = await startNginx(nginxBinary, { root, upstream: `127.0.0.1:${sidecar.port}` })
  })
  afterAll(async () => {
    await nginx?.stop()
    await sidecar?.close()
    if (root) await rm(root, { recursive: true, force: true })
  })

  /** Copies a release's files into the web root, each replaced in one rename, as a deploy does. */
  async function deploy(files: Record<string, FileAnswer>): Promise<void> {
    for (const [path, answer] of Object.entries(files)) {
      const file = join(root, path === '/' ? 'index.html' : path)
      if (typeof answer === 'number') await rm(file, { force: true })
      else {
        await mkdir(dirname(file), { recursive: true })
        await writeFile(`${file}.next`, typeof answer === 'string' ? answer : (answer.body ?? ''))
        await rename(`${file}.next`, file)
      }
    }
  }

  const build = (app: string, version: string, body = '', files: Record<string, FileAnswer> = {}) =>
    release(version, { client: { src: '/deploy-notify/client.js', version: 'BUILD_VERSION', app }, body }, files)

  /** Resolves once `page` has read version.json `count` more times. */
  const originChecks = (page: Page, count = 1): Promise<void> => {
    let seen = 0
    return new Promise((resolve) =>
      page.on('response', (response) => {
        if (new URL(response.url()).pathname === '/version.json' && ++seen === count) resolve()
      }),
    )
  }

  it('a page loaded in the deploy window shows nothing; the pages before it show the banner', async () => {
    const app = 'truth-window'
    await deploy(build(app, 'v1'))
    await notify(sidecar.url, { app, version: 'v1' })
    const old = await browser.open(`${nginx.url}/`)
    await waitForStreams(sidecar.url, app, 1)

    // The new files go live; CI notifies LAG_MS later. A page loaded meanwhile runs v2.
    await deploy(build(app, 'v2'))
    const swapped = Date.now()
    const fresh = await browser.newPage()
    const checked = originChecks(fresh)
    await fresh.goto(`${nginx.url}/`)
    expect(await runningVersion(fresh)).toBe('v2')
    // The sidecar says v1, a version the page does not run; the origin says v2: the page is the new one.
    await checked
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, swapped + LAG_MS - Date.now())))
    expect(await updates(fresh)).toEqual([])

    await notify(sidecar.url, { app, version: 'v2', message: 'v2 is live' })
    await banner(old).getByText('v2 is live').waitFor({ timeout: 5000 })
    expect((await waitForCurrents(fresh, 1)).map((deploy) => deploy.version)).toEqual(['v2'])
    expect(await updates(fresh)).toEqual([])
    expect(await fresh.locator('deploy-notify').count()).toBe(0)
  })

  it('waits for a lagging origin: no banner until Reload brings the new version', async () => {
    const app = 'truth-lag'
    await deploy(build(app, 'v1'))
    const page = await browser.open(`${nginx.url}/`)
    await waitForStreams(sidecar.url, app, 1)

    // CI notifies before the CDN serves the new files: the page asks the origin, which says v1.
    const checked = originChecks(page, 2)
    await notify(sidecar.url, { app, version: 'v2', message: 'v2 is live' })
    await checked
    expect(await updates(page)).toEqual([])
    expect(await banner(page).count()).toBe(0)

    await deploy(build(app, 'v2'))
    // Re-checked with backoff (1 s, 2 s, 4 s...), so within a few seconds of the origin catching up.
    await banner(page).getByText('v2 is live').waitFor({ timeout: 10_000 })
    await Promise.all([page.waitForEvent('load', { timeout: 5000 }), reloadButton(page).click()])
    expect(await runningVersion(page)).toBe('v2')
  })

  it('treats a rollback as the newer deploy', async () => {
    const app = 'truth-rollback'
    await deploy(build(app, 'v1'))
    await notify(sidecar.url, { app, version: 'v1' })
    await deploy(build(app, 'v2'))
    await notify(sidecar.url, { app, version: 'v2' })
    const page = await browser.open(`${nginx.url}/`)
    await waitForVersion(sidecar.url, app, 'v2')

    // v2 is broken: v1 goes live again, and is announced again.
    await deploy(build(app, 'v1'))
    await notify(sidecar.url, { app, version: 'v1', message: 'back to v1' })
    await banner(page).getByText('back to v1').waitFor({ timeout: 5000 })
    expect(await updates(page)).toMatchObject([{ reason: 'deploy', version: 'v1' }])
    await Promise.all([page.waitForEvent('load', { timeout: 5000 }), reloadButton(page).click()])
    expect(await runningVersion(page)).toBe('v1')

    // A v2 page opened now (kept by a browser's cache, say) is told on connect: v2 is an earlier deploy.
    await deploy({ '/v2.html': build(app, 'v2')['/'] })
    const late = await browser.open(`${nginx.url}/v2.html`)
    expect(await runningVersion(late)).toBe('v2')
    await banner(late).getByText('back to v1').waitFor({ timeout: 5000 })
  })

  it('ignores a blocked first-party script and a missing optional file on a current page', async () => {
    const app = 'truth-blocked'
    const body = '<script type="module" src="/assets/index-abc.js"></script>'
    // The app asks for both once the page has loaded, so the client (a deferred script) is
    // listening: an async tag's 404 could otherwise come before it runs, and nothing is seen.
    const entry = [
      'document.body.dataset.started = "yes"',
      'addEventListener("load", () => {',
      '  for (const src of ["/js/analytics.js", "/assets/optional-extra.js"])',
      '    document.head.append(Object.assign(document.createElement("script"), { src, async: true }))',
      '})',
    ].join('\n')
    await deploy(build(app, 'v1', body, { '/assets/index-abc.js': entry }))
    await rm(join(root, 'assets', 'optional-extra.js'), { force: true })
    const page = await browser.newPage()
    // An ad blocker cancels the analytics request; the optional file is simply not there (404).
    await page.route('**/js/analytics.js', (route) => route.abort('blockedbyclient'))
    const warned = page.waitForEvent('console', {
      predicate: (message) => message.type() === 'warning' && /still serves v1/.test(message.text()),
      // Page load, then the origin check: bounded, with room for a busy CI machine.
      timeout: 15_000,
    })
    await page.goto(`${nginx.url}/`)
    // The optional file is in the build's folder: the client asked the origin, which still serves v1.
    await warned
    expect(await updates(page)).toEqual([])
    expect(await banner(page).count()).toBe(0)

    // A real deploy is still the one thing it prompts for.
    await deploy(build(app, 'v2', body))
    await notify(sidecar.url, { app, version: 'v2', message: 'a real deploy' })
    await banner(page).getByText('a real deploy').waitFor({ timeout: 5000 })
    expect((await updates(page)).map((update) => update.reason)).toEqual(['deploy'])
  })

  it.each(['/deploy-notify/client-ui.js', '/version.json'])(
    'goes on looking into a failed file when a check meanwhile finds the sidecar current (%s slow)',
    async (slow) => {
      const app = `truth-overlap-${slow.length}`
      const entry = '<script type="module" src="/assets/index-overlap.js"></script>'
      await deploy(build(app, 'v1', entry, { '/assets/index-overlap.js': 'document.body.dataset.started = "yes"\n' }))
      await notify(sidecar.url, { app, version: 'v1' })
      const page = await browser.newPage()
      // The look into the failed file waits at `slow` (the on-demand part, or the origin's answer).
      let reached!: () => void
      const waiting = new Promise<void>((resolve) => (reached = resolve))
      let release!: () => void
      const released = new Promise<void>((resolve) => (release = resolve))
      await page.route(`**${slow}`, async (route) => {
        reached()
        await released
        await route.continue()
      })
      const warned = page.waitForEvent('console', {
        predicate: (message) => message.type() === 'warning' && /still serves v1/.test(message.text()),
        timeout: 15_000,
      })
      await page.goto(`${nginx.url}/`)
      await waitForStreams(sidecar.url, app, 1)
      // A file of the build's folder that is not there (a lazy script of an older build, say).
      await page.evaluate(() =>
        document.head.append(Object.assign(document.createElement('script'), { src: '/assets/gone.js' })),
      )
      await waiting

      // Meanwhile the page comes back (a back/forward restore checks at once): the sidecar says v1.
      const seen = (await currents(page)).length
      await page.evaluate(() => dispatchEvent(new PageTransitionEvent('pageshow', { persisted: true })))
      await waitForCurrents(page, seen + 1)
      release()
      // Only the origin can say the build is whole; it still serves v1, so nothing shows.
      await warned
      expect(await updates(page)).toEqual([])
      expect(await banner(page).count()).toBe(0)
    },
  )

  it('a stale chunk: one banner, Reload brings the new version, and no second banner after', async () => {
    const app = 'truth-chunk'
    // The app's import() goes unhandled, as in most apps.
    const entry = (version: string) =>
      `document.getElementById('open').onclick = () => import('/assets/chunk-${version}.js').then((m) => m.open())\n`
    const body = (version: string) =>
      `<button id="open">Open</button><script type="module" src="/assets/index-${version}.js"></script>`
    const files = (version: string) => ({
      [`/assets/index-${version}.js`]: entry(version),
      [`/assets/chunk-${version}.js`]: `export const open = () => document.body.append('chunk ${version}')\n`,
    })
    await deploy(build(app, 'v1', body('v1'), files('v1')))
    await notify(sidecar.url, { app, version: 'v1' })
    const page = await browser.open(`${nginx.url}/`)
    browser.allowError(page, /Failed to fetch dynamically imported module/)
    await waitForStreams(sidecar.url, app, 1)

    // The deploy removes v1's files; CI has not notified yet.
    await deploy({
      ...build(app, 'v2', body('v2'), files('v2')),
      '/assets/chunk-v1.js': 404,
      '/assets/index-v1.js': 404,
    })
    await page.getByRole('button', { name: 'Open' }).click()
    await reloadButton(page).waitFor({ timeout: 5000 })
    expect(await updates(page)).toMatchObject([{ reason: 'broken', version: 'v2' }])

    await Promise.all([page.waitForEvent('load', { timeout: 5000 }), reloadButton(page).click()])
    expect(await runningVersion(page)).toBe('v2')
    await page.getByRole('button', { name: 'Open' }).click()
    await page.getByText('chunk v2').waitFor({ timeout: 5000 })

    // CI catches up: the reloaded page is current, and says nothing.
    await notify(sidecar.url, { app, version: 'v2' })
    await waitForCurrents(page, 1)
    expect(await updates(page)).toEqual([])
    expect(await banner(page).count()).toBe(0)
  })
})
