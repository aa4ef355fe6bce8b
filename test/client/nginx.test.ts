import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { banner, skipBrowserTests, useBrowser } from '../helpers/browser.js'
import { notify } from '../helpers/http.js'
import { freePort } from '../helpers/free-port.js'
import { findNginx, startNginx, type RunningNginx } from '../helpers/nginx.js'
import { release, versionFile } from './releases.js'
import { spawnSidecar, type SidecarProcess } from '../helpers/process.js'
import { TOKEN } from '../helpers/sidecar.js'
import { waitForStreams } from './sidecars.js'

const nginxBinary = findNginx()
if (!nginxBinary && !process.env.CI) {
  console.warn(
    '\n!!! nginx not found: SKIPPING test/client/nginx.test.ts (set NGINX=/path/to/nginx; CI fails instead) !!!\n',
  )
}

/** The sidecar's retry hint; the outage below outlasts it. */
const RETRY_MS = 500

// The page and the sidecar behind the project's nginx.conf, on one origin, as users deploy it:
// the script loads from /deploy-notify/client.js and finds its endpoints beside it.
describe.skipIf(skipBrowserTests || (!nginxBinary && !process.env.CI))('the client behind nginx', () => {
  const browser = useBrowser()
  let root: string
  let dataDir: string
  let port: number
  let sidecar: SidecarProcess | undefined
  let nginx: RunningNginx

  const startSidecar = async (): Promise<SidecarProcess> =>
    (sidecar = await spawnSidecar({
      PORT: String(port),
      NOTIFY_TOKEN: TOKEN,
      DATA_DIR: dataDir,
      RETRY_MS: String(RETRY_MS),
      KEEPALIVE_MS: '1000',
    }))

  const stopSidecar = async (signal: NodeJS.Signals): Promise<void> => {
    const running = sidecar
    sidecar = undefined
    if (!running || running.child.exitCode !== null || running.child.signalCode !== null) return
    running.child.kill(signal)
    await running.exited
  }

  beforeAll(async () => {
    if (!nginxBinary) throw new Error('nginx is required in CI: install it (apt-get install nginx-light) or set NGINX')
    root = await mkdtemp(join(tmpdir(), 'deploy-notify-client-nginx-'))
    dataDir = await mkdtemp(join(tmpdir(), 'deploy-notify-client-data-'))
    const client = { src: '/deploy-notify/client.js', version: 'v1', app: 'behind-nginx' }
    await writeFile(join(root, 'index.html'), release('v1', { client })['/'])
    // A fixed port, so the restarted sidecar is where nginx's upstream points.
    port = await freePort()
    await startSidecar()
    nginx = await startNginx(nginxBinary, { root, upstream: `127.0.0.1:${port}` })
  })

  afterAll(async () => {
    await nginx?.stop()
    await stopSidecar('SIGTERM')
    for (const dir of [root, dataDir]) if (dir) await rm(dir, { recursive: true, force: true })
  })

  it(
    'reconnects after the sidecar was down longer than the retry hint (nginx answering 502)',
    { timeout: 30_000 },
    async () => {
      const app = 'behind-nginx'
      const page = await browser.open(`${nginx.url}/`)
      const first = sidecar!
      await waitForStreams(first.url, app, 1)

      const badGateways: number[] = []
      let onBadGateway = (): void => {}
      page.on('response', (response) => {
        if (new URL(response.url()).pathname === '/deploy-notify/events' && response.status() === 502) {
          badGateways.push(Date.now())
          onBadGateway()
        }
      })
      const killedAt = Date.now()
      await stopSidecar('SIGKILL')

      // A bare EventSource stops for good at the first 502; the client tries again, and again.
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`saw ${badGateways.length} 502s from nginx within 8 s of the kill, expected 2`)),
          8000,
        )
        onBadGateway = () =>
          badGateways.length >= 2 && Date.now() - killedAt > RETRY_MS && (clearTimeout(timer), resolve())
        onBadGateway()
      })

      const second = await startSidecar()
      expect(second.port).toBe(port)
      await waitForStreams(second.url, app, 1, 12_000)
      await writeFile(join(root, 'version.json'), versionFile('v2', app))
      await notify(second.url, { app, version: 'v2', message: 'back after the outage' })
      await banner(page).getByText('back after the outage').waitFor({ timeout: 3000 })
    },
  )
})
