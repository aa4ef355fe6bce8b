import type { Page } from 'playwright-core'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { banner, skipBrowserTests, updates, useBrowser, waitForCurrents } from '../helpers/browser.js'
import { useAppServers, type ClientTag } from '../helpers/pages.js'
import { startTestSidecar, type TestSidecar } from '../helpers/sidecar.js'
import { release, versionFile } from './releases.js'
import { deploy, startFakeSidecar, type EventsAnswer, type FakeSidecar } from './sidecars.js'

// The stream against a sidecar that fails the ways real networks do, where a bare EventSource
// would give up for good. The real sidecar only serves the script; `data-url` points the
// client at a fake one that misbehaves on cue.
describe.skipIf(skipBrowserTests)('the stream', () => {
  const browser = useBrowser()
  const serve = useAppServers()
  let sidecar: TestSidecar
  const fakes: FakeSidecar[] = []

  beforeAll(async () => {
    sidecar = await startTestSidecar()
  })
  afterEach(async () => {
    await Promise.all(fakes.splice(0).map((fake) => fake.close()))
  })
  afterAll(async () => {
    await sidecar?.close()
  })

  async function fakeSidecar(events: EventsAnswer[]): Promise<FakeSidecar> {
    const fake = await startFakeSidecar(events)
    fakes.push(fake)
    return fake
  }

  /**
   * A v1 page whose origin serves `served` (version.json) already, so whatever the fake sidecar
   * announces of it makes the banner show.
   */
  async function openApp(
    fake: FakeSidecar,
    app: string,
    extra: Partial<ClientTag> = {},
    served = 'v2',
  ): Promise<{ page: Page; serve: (version: string) => void }> {
    const client: ClientTag = { src: `${sidecar.url}/client.js`, url: fake.url, app, version: 'v1', ...extra }
    const site = await serve({ ...release('v1', { client }), '/version.json': versionFile(served) })
    const page = await browser.open(`${site.url}/`)
    return { page, serve: (version) => site.setFile('/version.json', versionFile(version)) }
  }

  it('reconnects after a 500 and after a wrong content type', async () => {
    const app = 'stream-flaky'
    const fake = await fakeSidecar([
      { status: 500 },
      { status: 200, type: 'text/plain', body: 'not a stream\n' },
      'stream',
    ])
    fake.setCurrent(deploy(app, 'v2', 'through a flaky stream'), { version: false }) // only the stream can deliver it

    const { page } = await openApp(fake, app)
    // Backoff with full jitter from 1 s: the third attempt starts within 1 + 2 s.
    await banner(page).getByText('through a flaky stream').waitFor({ timeout: 8000 })
    expect(fake.answered('/events')).toEqual([500, 200, 200])
    expect(await updates(page)).toMatchObject([{ reason: 'deploy', deploy: { version: 'v2' } }])
  })

  it('falls back to polling /version when /events answers 404', async () => {
    const app = 'stream-polling'
    const fake = await fakeSidecar([{ status: 404 }])
    fake.setCurrent(deploy(app, 'v1'), { stream: false })

    const { page, serve: deployed } = await openApp(fake, app, { pollInterval: 500 }, 'v1')
    // Three failures in a row (within 1 + 2 s of backoff), then polls every 500 ms.
    await fake.requested('/events', 3, 8000)
    await fake.requested('/version', 2, 5000)
    // A poll that finds the running version reports it.
    expect((await waitForCurrents(page, 1)).map((c) => c.version)).toContain('v1')
    expect(await banner(page).count()).toBe(0)

    // Nothing but the next poll can find this one.
    deployed('v2')
    fake.setCurrent(deploy(app, 'v2', 'found by polling', '2'), { stream: false })
    await banner(page).getByText('found by polling').waitFor({ timeout: 3000 })
    expect(await updates(page)).toMatchObject([{ reason: 'deploy', deploy: { version: 'v2' } }])
  })

  it('ignores malformed event data with one warning, and keeps listening', async () => {
    const app = 'stream-malformed'
    const fake = await fakeSidecar([{ frames: 'event: deploy\ndata: {"version": oops\n\n' }])
    fake.setCurrent(deploy(app, 'v2', 'after the garbage'), { version: false })

    const client: ClientTag = { src: `${sidecar.url}/client.js`, url: fake.url, app, version: 'v1' }
    const site = await serve({ ...release('v1', { client }), '/version.json': versionFile('v2') })
    const page = await browser.newPage()
    const warnings: string[] = []
    page.on('console', (message) => void (message.type() === 'warning' && warnings.push(message.text())))
    await page.goto(`${site.url}/`)

    await banner(page).getByText('after the garbage').waitFor({ timeout: 5000 })
    expect(warnings).toHaveLength(1)
    // The garbage did not cost the stream: it was never reopened.
    expect(fake.answered('/events')).toEqual([200])
  })
})
