import { describe, expect, it } from 'vitest'
import {
  banner,
  loadsWithin,
  runningVersion,
  skipBrowserTests,
  useBrowser,
  waitForUpdates,
} from '../helpers/browser.js'
import { openHiddenCapableTab } from '../helpers/hidden-tab.js'
import { notify, until } from '../helpers/http.js'
import { appPage, clientTags, DRAFT_FORM, useAppServers } from '../helpers/pages.js'
import { useSidecar } from '../helpers/sidecar.js'
import { versionFile } from './releases.js'
import { waitForStreams } from './sidecars.js'

/** A router: links change the route in place, unless something already handled the click. */
const ROUTER = `<nav><a href="/settings">Settings</a></nav><p id="route">home</p>
<script>document.addEventListener('click', (e) => {
  const a = e.target.closest('a'); if (!a || e.defaultPrevented) return
  e.preventDefault(); history.pushState(null, '', a.href); document.getElementById('route').textContent = 'settings, in place'
})</script>`

// data-apply="auto": no prompt; the page takes the new version by itself when nobody loses anything.
describe.skipIf(skipBrowserTests)('apply: auto', () => {
  const browser = useBrowser()
  const serve = useAppServers()
  const sidecar = useSidecar({ RETRY_MS: '200' })

  const client = clientTags(() => sidecar().url, { apply: 'auto', applySpread: 500 })

  it('reloads a hidden tab within seconds of the deploy, and never prompts', async () => {
    const app = 'apply-hidden'
    const site = await serve({ '/version.json': versionFile('v1'), '/': appPage({ client: client(app, 'v1') }) })
    const tab = await openHiddenCapableTab(await browser.browserSession(), `${site.url}/`)
    try {
      await waitForStreams(sidecar().url, app, 1)
      await tab.hide()

      site.setFile('/', appPage({ client: client(app, 'v2') }))

      site.setFile('/version.json', versionFile('v2'))
      const notifiedAt = Date.now()
      await notify(sidecar().url, { app, version: 'v2', message: 'New search' })
      const running = () => tab.evaluate<string>("document.querySelector('script[data-version]').dataset.version")
      await until(async () => (await running().catch(() => '')) === 'v2', 'the hidden tab to reload into v2', 5000)
      const reloadedAfter = Date.now() - notifiedAt
      expect(reloadedAfter).toBeLessThan(5000)
      expect(site.requests('/')).toBe(2)
      expect(await tab.evaluate<string>('document.visibilityState')).toBe('hidden')
      expect(tab.errors).toEqual([])
    } finally {
      await tab.close()
    }
  })

  it('keeps a tab with an edited form, hidden or not, and reloads it once the form is saved and the tab hidden', async () => {
    const app = 'apply-form'
    const site = await serve({
      '/version.json': versionFile('v1'),
      '/': appPage({ client: client(app, 'v1'), body: DRAFT_FORM }),
    })
    const tab = await openHiddenCapableTab(await browser.browserSession(), `${site.url}/`)
    try {
      await waitForStreams(sidecar().url, app, 1)
      // The user types a title and moves on without saving.
      await tab.evaluate("document.querySelector('input').focus()")
      await tab.evaluate("document.execCommand('insertText', false, 'half a thought')")
      await tab.evaluate("document.querySelector('input').blur()")

      site.setFile('/', appPage({ client: client(app, 'v2'), body: DRAFT_FORM }))

      site.setFile('/version.json', versionFile('v2'))
      await notify(sidecar().url, { app, version: 'v2' })
      await tab.hide()
      // The spread (0.5 s) has long passed: only the unsaved form keeps the page.
      const reloaded = await until(async () => site.requests('/') > 1, 'a reload', 2500).then(
        () => true,
        () => false,
      )
      expect(reloaded, 'the tab reloaded over an unsaved form').toBe(false)
      expect(await tab.evaluate<string>("document.querySelector('input').value")).toBe('half a thought')

      // Back to the tab, save, and leave again: now nothing is lost.
      await tab.show()
      await tab.evaluate("document.getElementById('draft').requestSubmit()")
      expect(await tab.evaluate<string>('document.body.dataset.saved')).toBe('yes')
      await tab.hide()
      await until(async () => site.requests('/') === 2, 'the reload after the save', 5000)
      await until(
        async () =>
          (await tab
            .evaluate<string>("document.querySelector('script[data-version]').dataset.version")
            .catch(() => '')) === 'v2',
        'v2 running',
      )
    } finally {
      await tab.close()
    }
  })

  it('reloads a visible page after it was idle, but not while a field has focus', async () => {
    const app = 'apply-idle'
    const site = await serve({
      '/version.json': versionFile('v1'),
      '/': appPage({ client: client(app, 'v1', { applyIdle: 800 }), body: DRAFT_FORM }),
    })
    const page = await browser.open(`${site.url}/`)
    await waitForStreams(sidecar().url, app, 1)
    await page.getByRole('textbox', { name: 'Title' }).focus()

    site.setFile('/', appPage({ client: client(app, 'v2', { applyIdle: 800 }), body: DRAFT_FORM }))

    site.setFile('/version.json', versionFile('v2'))
    await notify(sidecar().url, { app, version: 'v2' })
    await waitForUpdates(page, 1)
    expect(await loadsWithin(page, 2500), 'reloaded while the user was in a field').toBe(false)

    // Focus leaves the field (nothing typed): the next idle moment reloads.
    await page.evaluate(() => (document.activeElement as HTMLElement).blur())
    await page.waitForEvent('load', { timeout: 5000 })
    expect(await runningVersion(page)).toBe('v2')
    expect(await banner(page).count()).toBe(0)
  })

  it('turns the next link click into a full load of its target at the new version', async () => {
    const app = 'apply-link'
    const settings = (version: string) => appPage({ client: client(app, version), body: '<p>settings page</p>' })
    const site = await serve({
      '/version.json': versionFile('v1'),
      '/': appPage({ client: client(app, 'v1'), body: ROUTER }),
      '/settings': settings('v1'),
    })
    const page = await browser.open(`${site.url}/`)
    await waitForStreams(sidecar().url, app, 1)

    // Before a deploy, the router moves in place.
    await page.getByRole('link', { name: 'Settings' }).click()
    await page.getByText('settings, in place').waitFor()
    expect(site.requests('/settings')).toBe(0)
    await page.goBack()

    site.setFile('/settings', settings('v2'))

    site.setFile('/version.json', versionFile('v2'))
    await notify(sidecar().url, { app, version: 'v2', message: 'New search' })
    await waitForUpdates(page, 1)
    await Promise.all([page.waitForEvent('load'), page.getByRole('link', { name: 'Settings' }).click()])
    expect(new URL(page.url()).pathname).toBe('/settings')
    await page.getByText('settings page').waitFor()
    expect(await runningVersion(page)).toBe('v2')
    expect(site.requests('/settings')).toBe(1)
  })
})
