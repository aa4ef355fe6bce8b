import { describe, expect, it } from 'vitest'
import { banner, laterButton, skipBrowserTests, updates, useBrowser } from '../helpers/browser.js'
import { notify } from '../helpers/http.js'
import { useAppServers } from '../helpers/pages.js'
import { useSidecar } from '../helpers/sidecar.js'
import { release, versionFile } from './releases.js'
import { waitForStreams } from './sidecars.js'

// Many tabs of one app in one browser: one stream between them, one answer to the prompt.
describe.skipIf(skipBrowserTests)('tabs of one app', () => {
  const browser = useBrowser()
  const serve = useAppServers()
  const sidecar = useSidecar({ RETRY_MS: '200' })

  // Tabs of v1 while the origin serves v2 already: a notify of v2 makes every banner show.
  const site = (app: string) =>
    serve({
      ...release('v1', { client: { src: `${sidecar().url}/client.js`, version: 'v1', app } }),
      '/version.json': versionFile('v2'),
    })

  it('hold one stream for eight tabs, and all of them show the banner', async () => {
    const app = 'tabs-eight'
    const { url } = await site(app)
    const context = await browser.newContext()
    // One after another, as a user opens them; HTTP/1.1 allows six connections per origin, so
    // with a stream per tab the seventh would never even load its client.
    const pages = []
    for (let i = 0; i < 8; i++) pages.push(await browser.open(`${url}/`, context))

    await waitForStreams(sidecar().url, app, 1)
    const answer = await notify(sidecar().url, { app, version: 'v2', message: 'for every tab' })
    expect(answer.json.delivered).toBe(1)
    await Promise.all(pages.map((page) => banner(page).getByText('for every tab').waitFor({ timeout: 5000 })))
    for (const page of pages) expect((await updates(page)).map((u) => u.deploy?.version)).toEqual(['v2'])
    // Still one, after the relay: no tab opened a stream of its own on the way.
    await waitForStreams(sidecar().url, app, 1)
  })

  it('hand the stream over when the tab that holds it closes', async () => {
    const app = 'tabs-handover'
    const { url } = await site(app)
    const context = await browser.newContext()
    const pages = [
      await browser.open(`${url}/`, context),
      await browser.open(`${url}/`, context),
      await browser.open(`${url}/`, context),
    ]
    await waitForStreams(sidecar().url, app, 1)

    // The first tab opened is the likely holder; whichever it was, two tabs remain and one of them takes over.
    await pages[0]?.close()
    await waitForStreams(sidecar().url, app, 1)
    await notify(sidecar().url, { app, version: 'v2', message: 'after handover' })
    await Promise.all(pages.slice(1).map((page) => banner(page).getByText('after handover').waitFor({ timeout: 5000 })))
  })

  it('dismiss in every tab when Later is chosen in one', async () => {
    const app = 'tabs-later'
    const origin = await site(app)
    const url = origin.url
    const context = await browser.newContext()
    const first = await browser.open(`${url}/`, context)
    const second = await browser.open(`${url}/`, context)
    await waitForStreams(sidecar().url, app, 1)

    await notify(sidecar().url, { app, version: 'v2', message: 'decide once' })
    await banner(first).getByText('decide once').waitFor({ timeout: 5000 })
    await banner(second).getByText('decide once').waitFor({ timeout: 5000 })

    await laterButton(first).click()
    await banner(first).waitFor({ state: 'hidden', timeout: 2000 })
    await banner(second).waitFor({ state: 'hidden', timeout: 2000 })

    // A newer version prompts again, in both.
    origin.setFile('/version.json', versionFile('v3'))
    await notify(sidecar().url, { app, version: 'v3', message: 'newer still' })
    await banner(first).getByText('newer still').waitFor({ timeout: 5000 })
    await banner(second).getByText('newer still').waitFor({ timeout: 5000 })
  })
})
