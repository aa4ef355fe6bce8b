import { afterEach, describe, expect, it } from 'vitest'
import { banner, skipBrowserTests, useBrowser } from '../helpers/browser.js'
import { notify } from '../helpers/http.js'
import { useAppServers, type ClientTag } from '../helpers/pages.js'
import { useSidecar } from '../helpers/sidecar.js'
import { deployTo, release } from './releases.js'
import { startRelay, type Relay } from './relay.js'
import { waitForStreams } from './sidecars.js'

// A restart sends every page back at once unless each waits for the stream's `retry:` hint,
// which the sidecar spreads over RETRY_MS..1.5 * RETRY_MS. A relay in front of the real
// sidecar cuts the stream (as a restart does) and sees when the browser asks again.
const RETRY_MS = 3000
/** Timers on a busy machine fire late, never early: room on the late side only. */
const LATE_MS = 2000

describe.skipIf(skipBrowserTests)('reconnecting after a stream drops', () => {
  const browser = useBrowser()
  const serve = useAppServers()
  const sidecar = useSidecar({ RETRY_MS: String(RETRY_MS) })
  const relays: Relay[] = []

  afterEach(async () => {
    await Promise.all(relays.splice(0).map((relay) => relay.close()))
  })

  /**
   * A page of `app` running v1, whose stream goes through a relay and is open, and a deploy
   * of v2 (on the origin, then to the sidecar) whose banner only a working stream can bring.
   */
  async function openThroughRelay(app: string) {
    const relay = await startRelay(sidecar().port)
    relays.push(relay)
    expect((await notify(sidecar().url, { app, version: 'v1' })).status).toBe(202)
    const client: ClientTag = { src: `${sidecar().url}/client.js`, url: relay.url, app, version: 'v1' }
    const site = await serve(release('v1', { client }))
    const page = await browser.open(`${site.url}/`)
    await waitForStreams(sidecar().url, app, 1, 8000)
    const deployV2 = async (message: string) => {
      deployTo(site, release('v2', { client }))
      expect((await notify(sidecar().url, { app, version: 'v2', message })).status).toBe(202)
    }
    return { page, relay, deployV2 }
  }

  it(
    'waits for the retry hint before the first reconnect, and the stream works again',
    { timeout: 30_000 },
    async () => {
      const app = 'reconnect-hint'
      const { page, relay, deployV2 } = await openThroughRelay(app)

      const droppedAt = Date.now()
      relay.dropStreams()
      await relay.requested(2, 1.5 * RETRY_MS + LATE_MS + 2000)
      const waited = relay.events[1]!.at - droppedAt
      expect(waited).toBeGreaterThanOrEqual(RETRY_MS)
      expect(waited).toBeLessThan(1.5 * RETRY_MS + LATE_MS)
      expect(relay.events.map((e) => e.canned)).toEqual([undefined, undefined]) // both reached the sidecar

      // The browser's own reconnect is a working stream: the next deploy arrives through it.
      await waitForStreams(sidecar().url, app, 1, 5000)
      await deployV2('after the drop')
      await banner(page).getByText('after the drop').waitFor({ timeout: 5000 })
      expect(relay.events).toHaveLength(2)
    },
  )

  it(
    'backs off on its own when that reconnect gets a 500, then a wrong content type',
    { timeout: 30_000 },
    async () => {
      const app = 'reconnect-flaky'
      const { page, relay, deployV2 } = await openThroughRelay(app)
      relay.answerNext(
        { status: 500, type: 'application/json', body: '{"error":"DN_ERR_TEST","message":"fake 500"}' },
        { status: 200, type: 'text/plain', body: 'not a stream\n' },
      )

      const droppedAt = Date.now()
      relay.dropStreams()
      // The hint, then full-jitter backoff: within 1 s after the 500, within 2 s after the text.
      await relay.requested(4, 1.5 * RETRY_MS + 1000 + 2000 + 3 * LATE_MS)
      const [, afterHint, afterError, afterText] = relay.events.map((e) => e.at)
      expect(afterHint! - droppedAt).toBeGreaterThanOrEqual(RETRY_MS)
      // Where a bare EventSource would have given up for good, the client tries again, and sooner
      // than any hint: the hint is for a stream that was healthy, not for one that keeps failing.
      expect(afterError! - afterHint!).toBeLessThan(RETRY_MS)
      expect(afterText! - afterError!).toBeLessThan(2000 + LATE_MS)
      expect(relay.events.map((e) => e.canned)).toEqual([undefined, 500, 200, undefined])

      await waitForStreams(sidecar().url, app, 1, 5000)
      await deployV2('back after backoff')
      await banner(page).getByText('back after backoff').waitFor({ timeout: 5000 })
    },
  )
})
