import type { Locator } from 'playwright-core'
import { describe, expect, it } from 'vitest'
import {
  banner,
  laterButton,
  loadsWithin,
  reloadButton,
  runningVersion,
  screenshot,
  skipBrowserTests,
  useBrowser,
} from '../helpers/browser.js'
import { notify } from '../helpers/http.js'
import { appPage, clientTags, DRAFT_FORM, useAppServers } from '../helpers/pages.js'
import { useSidecar } from '../helpers/sidecar.js'
import { versionFile } from './releases.js'
import { waitForStreams } from './sidecars.js'

/** The seconds the banner's countdown shows, or undefined while it waits. */
async function secondsShown(status: Locator): Promise<number | undefined> {
  const match = /Updating in (\d+) s/.exec(await status.innerText())
  return match ? Number(match[1]) : undefined
}

// A mandatory deploy cannot be put off for good: the banner counts down, unsaved work holds
// the count, and at zero the page reloads (with the same care as apply=auto).
describe.skipIf(skipBrowserTests)('a mandatory deploy', () => {
  const browser = useBrowser()
  const serve = useAppServers()
  const sidecar = useSidecar({ RETRY_MS: '200' })

  const client = clientTags(() => sidecar().url, { applyCountdown: 3000, applySpread: 1 })

  it('counts down in the banner, holds while a field is being edited, and reloads once it is saved', async () => {
    const app = 'countdown-form'
    const site = await serve({
      '/version.json': versionFile('v1'),
      '/': appPage({ client: client(app, 'v1'), body: DRAFT_FORM }),
    })
    const page = await browser.open(`${site.url}/`)
    await waitForStreams(sidecar().url, app, 1)

    site.setFile('/', appPage({ client: client(app, 'v2'), body: DRAFT_FORM }))

    site.setFile('/version.json', versionFile('v2'))
    await notify(sidecar().url, { app, version: 'v2', message: 'Security fix', mandatory: true })
    const status = banner(page)
    await status.getByText('Security fix').waitFor({ timeout: 5000 })
    await status.getByText(/Updating in [1-3] s/).waitFor({ timeout: 2000 })
    expect(await reloadButton(page).count()).toBe(1)
    expect(await laterButton(page).count()).toBe(0)
    await screenshot(page, 'countdown')

    // The user starts typing: the countdown stops and says why.
    await page.getByRole('textbox', { name: 'Title' }).fill('almost done')
    await status.getByText('Updating once your changes are saved').waitFor({ timeout: 2000 })
    expect(await loadsWithin(page, 3500), 'reloaded over the form').toBe(false)
    expect(await status.innerText()).toContain('Updating once your changes are saved')

    // Saved and done: the count resumes where it stopped, then the page reloads.
    await page.getByRole('button', { name: 'Save' }).click()
    await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur())
    const resumedAt = await status
      .getByText(/Updating in \d+ s/)
      .waitFor({ timeout: 2000 })
      .then(() => secondsShown(status))
    expect(resumedAt).toBeGreaterThanOrEqual(1)
    await page.waitForEvent('load', { timeout: 6000 })
    expect(await runningVersion(page)).toBe('v2')
  })

  it('reloads at once on Reload', async () => {
    const app = 'countdown-now'
    const site = await serve({
      '/version.json': versionFile('v1'),
      '/': appPage({ client: client(app, 'v1', { applyCountdown: 60_000 }) }),
    })
    const page = await browser.open(`${site.url}/`)
    await waitForStreams(sidecar().url, app, 1)

    site.setFile('/', appPage({ client: client(app, 'v2') }))

    site.setFile('/version.json', versionFile('v2'))
    await notify(sidecar().url, { app, version: 'v2', mandatory: true })
    await banner(page)
      .getByText(/Updating in (60|59) s/)
      .waitFor({ timeout: 5000 })
    await Promise.all([page.waitForEvent('load', { timeout: 5000 }), reloadButton(page).click()])
    expect(await runningVersion(page)).toBe('v2')
  })
})
