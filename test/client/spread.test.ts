import { describe, expect, it } from 'vitest'
import { banner, runningVersion, skipBrowserTests, useBrowser, waitForUpdates } from '../helpers/browser.js'
import { notify } from '../helpers/http.js'
import { appPage, clientTags, useAppServers } from '../helpers/pages.js'
import { useSidecar } from '../helpers/sidecar.js'
import { versionFile } from './releases.js'
import { waitForStreams } from './sidecars.js'

// Every page hears of a deploy in the same second; with apply=auto each waits a random share
// of the spread window, so the origin takes the reloads over that window, not at once. The
// figure over many pages comes from the same scheduling code in schedule.test.ts; here one real
// page waits its turn.
describe.skipIf(skipBrowserTests)('the spread of automatic reloads', () => {
  const browser = useBrowser()
  const serve = useAppServers()
  const sidecar = useSidecar({ RETRY_MS: '200' })

  const client = clientTags(() => sidecar().url, { apply: 'auto', applyIdle: 300 })

  it('lets one page wait its turn, then reload by itself', async () => {
    const app = 'spread-turn'
    const context = await browser.newContext()
    // This page draws 0.75 of the window: its turn comes 3 s after it hears of the deploy.
    await context.addInitScript('Math.random = () => 0.75')
    const tag = (version: string) => client(app, version, { applySpread: 4000 })
    const site = await serve({ '/version.json': versionFile('v1'), '/': appPage({ client: tag('v1') }) })
    const page = await browser.open(`${site.url}/`, context)
    await waitForStreams(sidecar().url, app, 1)

    site.setFile('/', appPage({ client: tag('v2') }))

    site.setFile('/version.json', versionFile('v2'))
    const notifiedAt = Date.now()
    await notify(sidecar().url, { app, version: 'v2' })
    await waitForUpdates(page, 1)
    // Waiting its turn: no prompt, no reload yet.
    expect(await banner(page).count()).toBe(0)
    await page.waitForEvent('load', { timeout: 7000 })
    expect(await runningVersion(page)).toBe('v2')
    const waited = (await page.evaluate(() => performance.timeOrigin)) - notifiedAt
    expect(waited).toBeGreaterThanOrEqual(2950)
    expect(waited).toBeLessThan(5000)
  })
})
