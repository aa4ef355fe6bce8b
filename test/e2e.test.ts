import { existsSync } from 'node:fs'
import { chmod, mkdtemp, readdir, rename, rm, symlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { banner, CHROMIUM, reloadButton, runningVersion, screenshot, updates, useBrowser } from './helpers/browser.js'
import { EXAMPLE_APP as APP, buildExample } from './helpers/example-app.js'
import { findNginx, startNginx, type RunningNginx } from './helpers/nginx.js'
import { runCli } from './helpers/process.js'
import { startTestSidecar, TOKEN, type TestSidecar } from './helpers/sidecar.js'
import { waitForStreams, waitForVersion } from './client/sidecars.js'

// The whole loop on examples/vite-app, as a team runs it: two real `vite build`s with the
// plugin, the project's nginx.conf in a real nginx, the sidecar behind it, Chromium in front,
// and the CLI's notify as CI sends it.

const nginxBinary = findNginx()
const missing = [...(nginxBinary ? [] : ['nginx']), ...(existsSync(CHROMIUM) ? [] : [`chromium (${CHROMIUM})`])]
if (missing.length > 0 && !process.env.CI) {
  console.warn(`\n!!! ${missing.join(' and ')} not found: SKIPPING test/e2e.test.ts (CI fails instead) !!!\n`)
}

describe.skipIf(missing.length > 0 && !process.env.CI)('the example app, from build to reload', () => {
  const browser = useBrowser()
  let folder: string
  let live: string
  let sidecar: TestSidecar
  let nginx: RunningNginx

  /** Deploys a build the way a release symlink does: one atomic rename, after which nginx serves only the new files. */
  const deploy = async (version: 'v1' | 'v2'): Promise<void> => {
    await symlink(join(folder, version), `${live}.next`)
    await rename(`${live}.next`, live)
  }

  /** What CI runs once the files are live. */
  const ciNotify = async (version: string, message?: string): Promise<string> => {
    const args = [
      'notify',
      '--url',
      sidecar.url,
      '--app',
      APP,
      '--version',
      version,
      ...(message ? ['--message', message] : []),
    ]
    const exit = await runCli(args, { NOTIFY_TOKEN: TOKEN })
    expect(exit.stderr).toBe('')
    expect(exit.code).toBe(0)
    return exit.stdout
  }

  beforeAll(async () => {
    if (missing.length > 0)
      throw new Error(
        `${missing.join(' and ')} required in CI: apt-get install nginx-light chromium (or set NGINX / CHROMIUM)`,
      )
    folder = await mkdtemp(join(tmpdir(), 'deploy-notify-e2e-'))
    await chmod(folder, 0o755) // nginx's workers run as nobody
    live = join(folder, 'live')
    // One after the other: the machine running the tests is busy enough.
    await buildExample('v1', join(folder, 'v1'))
    await buildExample('v2', join(folder, 'v2'))
    await deploy('v1')
    sidecar = await startTestSidecar({ RETRY_MS: '200' })
    nginx = await startNginx(nginxBinary!, { root: live, upstream: `127.0.0.1:${sidecar.port}` })
  }, 60_000)

  afterAll(async () => {
    await nginx?.stop()
    await sidecar?.close()
    if (folder) await rm(folder, { recursive: true, force: true })
  })

  const shownVersion = (page: Page) => page.getByTestId('version').textContent()

  it('a deploy that CI announces: the banner shows, Reload brings v2', async () => {
    await deploy('v1')
    await ciNotify('v1')
    const page = await browser.open(`${nginx.url}/`)
    expect(await shownVersion(page)).toBe('v1')
    expect(await runningVersion(page)).toBe('v1')
    await waitForStreams(sidecar.url, APP, 1)

    await deploy('v2')
    // The old hashed files are gone with the deploy: nginx has only v2's.
    const oldChunk = (await readdir(join(folder, 'v1', 'assets'))).find((name) => /^report-.*\.js$/.test(name))!
    expect((await fetch(`${nginx.url}/assets/${oldChunk}`)).status).toBe(404)

    expect(await ciNotify('v2', 'Version 2 is live')).toMatch(
      /deployed app "example" version "v2" .*delivered to 1 open page/,
    )
    await banner(page).getByText('Version 2 is live').waitFor({ timeout: 5000 })
    await screenshot(page, 'e2e-banner')

    await Promise.all([page.waitForEvent('load', { timeout: 5000 }), reloadButton(page).click()])
    expect(await runningVersion(page)).toBe('v2')
    expect(await shownVersion(page)).toBe('v2') // v2's bundle ran, not just its index.html
    await page.getByRole('button', { name: 'Open the report' }).click()
    await page.getByRole('heading', { name: 'Report of version v2' }).waitFor({ timeout: 5000 })
    // Up to date now: its stream is open, the sidecar has nothing to tell it, no banner shows.
    await waitForVersion(sidecar.url, APP, 'v2')
    expect(await updates(page)).toEqual([])
    expect(await banner(page).count()).toBe(0)
  })

  it('a deploy CI has not announced yet: the lazy chunk is gone, the banner shows at once', async () => {
    await deploy('v1')
    await ciNotify('v1') // a rollback, as far as the sidecar knows
    await waitForStreams(sidecar.url, APP, 0) // the first test's page has gone
    const context = await browser.newContext()
    const page = await browser.open(`${nginx.url}/`, context)
    expect(await shownVersion(page)).toBe('v1')
    await waitForStreams(sidecar.url, APP, 1)

    await deploy('v2') // no notify
    await page.getByRole('button', { name: 'Open the report' }).click()
    await page.getByText('The report could not be loaded.').waitFor({ timeout: 5000 })
    await reloadButton(page).waitFor({ timeout: 5000 })
    expect(await updates(page)).toMatchObject([{ reason: 'broken' }])
    await screenshot(page, 'e2e-broken-chunk')

    // CI catches up while the banner is up; Reload lands on v2, which is then current.
    await ciNotify('v2', 'Version 2 is live')
    await banner(page).getByText('Version 2 is live').waitFor({ timeout: 5000 })
    await Promise.all([page.waitForEvent('load', { timeout: 5000 }), reloadButton(page).click()])
    expect(await shownVersion(page)).toBe('v2')
    await waitForVersion(sidecar.url, APP, 'v2')
    expect(await updates(page)).toEqual([])
    expect(await banner(page).count()).toBe(0)
  })
})
