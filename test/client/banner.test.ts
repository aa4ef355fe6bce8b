import { describe, expect, it } from 'vitest'
import {
  banner,
  laterButton,
  reloadButton,
  runningVersion,
  screenshot,
  skipBrowserTests,
  updates,
  useBrowser,
  waitForUpdates,
  watchStream,
} from '../helpers/browser.js'
import { notify } from '../helpers/http.js'
import { useAppServers, type ClientTag } from '../helpers/pages.js'
import { useSidecar } from '../helpers/sidecar.js'
import { deployTo, release, versionFile } from './releases.js'
import { waitForStreams, waitForVersion } from './sidecars.js'

// What a user sees when a deploy is announced: the banner, its buttons, its language.
describe.skipIf(skipBrowserTests)('the banner', () => {
  const browser = useBrowser()
  const serve = useAppServers()
  const sidecar = useSidecar({ RETRY_MS: '200' })

  /** The client's tag as the app's source has it; `release()` stamps the version in. */
  const client = (app: string, extra: Partial<ClientTag> = {}): ClientTag => ({
    src: `${sidecar().url}/client.js`,
    version: 'BUILD_VERSION',
    app,
    ...extra,
  })

  it('shows an update with its message, and Reload loads the new page', async () => {
    const app = 'banner-update'
    const site = await serve(release('v1', { client: client(app) }))
    const page = await browser.newPage()
    const stream = await watchStream(page)
    await page.goto(`${site.url}/`)
    await waitForStreams(sidecar().url, app, 1)

    // The deploy replaced index.html and version.json; then CI notifies.
    deployTo(site, release('v2', { client: client(app) }))
    expect((await notify(sidecar().url, { app, version: 'v2', message: 'Release 2 is out' })).status).toBe(202)
    await banner(page).getByText('Release 2 is out').waitFor({ timeout: 5000 })
    await laterButton(page).waitFor({ timeout: 1000 })
    expect(await updates(page)).toMatchObject([
      { reason: 'deploy', version: 'v2', deploy: { app, version: 'v2', message: 'Release 2 is out' } },
    ])
    await screenshot(page, 'banner-update')

    // Reload must fetch the new index.html.
    await Promise.all([page.waitForEvent('load', { timeout: 5000 }), reloadButton(page).click()])
    expect(await runningVersion(page)).toBe('v2')

    // The new page runs the current version: the sidecar has nothing to tell it, and the next
    // deploy is its first prompt.
    await waitForVersion(sidecar().url, app, 'v2')
    expect(stream.received.filter((m) => m.type === 'version')).toEqual([])
    deployTo(site, release('v3', { client: client(app) }))
    await notify(sidecar().url, { app, version: 'v3', message: 'Release 3' })
    await banner(page).getByText('Release 3').waitFor({ timeout: 5000 })
    expect((await updates(page)).map((u) => u.deploy?.version)).toEqual(['v3'])
  })

  it('shows nothing when the pushed version is the one running', async () => {
    const app = 'banner-same'
    await notify(sidecar().url, { app, version: 'v1' })
    const site = await serve(release('v1', { client: client(app) }))
    const page = await browser.newPage()
    const stream = await watchStream(page)
    await page.goto(`${site.url}/`)
    await waitForVersion(sidecar().url, app, 'v1')

    // A later, different deploy is the first thing the page ever hears of, and prompts for.
    deployTo(site, release('v2', { client: client(app) }))
    await notify(sidecar().url, { app, version: 'v2', message: 'second' })
    await banner(page).getByText('second').waitFor({ timeout: 5000 })
    expect((await updates(page)).map((u) => u.deploy?.version)).toEqual(['v2'])
    expect(await banner(page).count()).toBe(1)
    expect(stream.received.map((m) => m.type)).toEqual(['deploy'])
  })

  it('hides on Later until a newer version, also after a reload', async () => {
    const app = 'banner-later'
    const site = await serve(release('v1', { client: client(app) }))
    const page = await browser.newPage()
    const stream = await watchStream(page)
    await page.goto(`${site.url}/`)
    await waitForStreams(sidecar().url, app, 1)

    // The origin serves v2 (version.json); this tab keeps its v1 page.
    site.setFile('/version.json', versionFile('v2'))
    await notify(sidecar().url, { app, version: 'v2', message: 'two' })
    await banner(page).getByText('two').waitFor({ timeout: 5000 })
    await laterButton(page).click()
    await banner(page).waitFor({ state: 'hidden', timeout: 2000 })

    // Still running v1 after a reload: v2 arrives again, and stays dismissed.
    await page.reload()
    await stream.next('version', 'v2')
    site.setFile('/version.json', versionFile('v3'))
    await notify(sidecar().url, { app, version: 'v3', message: 'three' })
    await banner(page).getByText('three').waitFor({ timeout: 5000 })
    expect((await updates(page)).map((u) => u.deploy?.version)).toEqual(['v3'])
    await laterButton(page).waitFor({ timeout: 1000 })
  })

  it('offers no Later for a mandatory deploy', async () => {
    const app = 'banner-mandatory'
    const site = await serve(release('v1', { client: client(app) }))
    const page = await browser.open(`${site.url}/`)
    await waitForStreams(sidecar().url, app, 1)

    deployTo(site, release('v2', { client: client(app) }))
    await notify(sidecar().url, { app, version: 'v2', message: 'security fix', mandatory: true })
    await banner(page).getByText('security fix').waitFor({ timeout: 5000 })
    expect(await reloadButton(page).count()).toBe(1)
    expect(await laterButton(page).count()).toBe(0)
    expect(await updates(page)).toMatchObject([{ reason: 'deploy', deploy: { version: 'v2', mandatory: true } }])
  })

  it('draws nothing with data-ui="none" and dispatches deploy-notify:update instead', async () => {
    const app = 'banner-none'
    const site = await serve(release('v1', { client: client(app, { ui: 'none' }) }))
    const page = await browser.open(`${site.url}/`)
    await waitForStreams(sidecar().url, app, 1)

    deployTo(site, release('v2', { client: client(app, { ui: 'none' }) }))
    await notify(sidecar().url, { app, version: 'v2', message: 'quietly' })
    expect(await waitForUpdates(page, 1)).toMatchObject([
      { reason: 'deploy', deploy: { app, version: 'v2', message: 'quietly' } },
    ])
    // A second deploy gives anything drawn late for the first one time to show up.
    deployTo(site, release('v3', { client: client(app, { ui: 'none' }) }))
    await notify(sidecar().url, { app, version: 'v3' })
    expect((await waitForUpdates(page, 2)).map((u) => u.deploy?.version)).toEqual(['v2', 'v3'])
    expect(await page.getByRole('status').count()).toBe(0)
    expect(await page.getByRole('button').count()).toBe(0)
    expect(await page.evaluate(() => document.body.children.length)).toBe(1) // only the app's <main>
  })

  it.each([
    { lang: 'zh-CN', script: /\p{Script=Han}/u },
    { lang: 'ru', script: /\p{Script=Cyrillic}/u },
  ])('speaks the page language ($lang)', async ({ lang, script }) => {
    const app = `banner-${lang.toLowerCase()}`
    const site = await serve(release('v1', { client: client(app), lang }))
    const page = await browser.open(`${site.url}/`)
    await waitForStreams(sidecar().url, app, 1)

    deployTo(site, release('v2', { client: client(app), lang }))
    await notify(sidecar().url, { app, version: 'v2' })
    const status = page.getByRole('status')
    await status.getByRole('button').first().waitFor({ timeout: 5000 })
    const buttons = await status.getByRole('button').allInnerTexts()
    expect(buttons).toHaveLength(2)
    for (const name of buttons) {
      expect(name).not.toMatch(/Reload|Later/)
      expect(name).toMatch(script)
    }
    expect(await status.innerText()).toMatch(script)
    expect(await status.innerText()).not.toContain('A new version is available')
    await screenshot(page, `banner-${lang}`)
  })
})
