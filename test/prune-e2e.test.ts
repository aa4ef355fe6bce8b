import { existsSync } from 'node:fs'
import { chmod, cp, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CHROMIUM, useBrowser } from './helpers/browser.js'
import { EXAMPLE_APP as APP, buildExample } from './helpers/example-app.js'
import { fileTree } from './helpers/file-tree.js'
import { freePort } from './helpers/free-port.js'
import { findNginx, startNginx, type RunningNginx } from './helpers/nginx.js'
import { runCli } from './helpers/process.js'
import { startTestSidecar, TOKEN, type TestSidecar } from './helpers/sidecar.js'
import { waitForPages, waitForStreams } from './client/sidecars.js'

// Skew protection on the example app as a team runs it: two real `vite build`s (the plugin
// records each build's files), copied one over the other into one web root that the project's
// nginx.conf serves, a v1 page open in Chromium, and `deploy-notify prune` as CI runs it.
const nginxBinary = findNginx()
const missing = [...(nginxBinary ? [] : ['nginx']), ...(existsSync(CHROMIUM) ? [] : [`chromium (${CHROMIUM})`])]
if (missing.length > 0 && !process.env.CI) {
  console.warn(`\n!!! ${missing.join(' and ')} not found: SKIPPING test/prune-e2e.test.ts (CI fails instead) !!!\n`)
}

describe.skipIf(missing.length > 0 && !process.env.CI)('prune keeps what open pages need', () => {
  const browser = useBrowser()
  let folder: string
  let root: string
  let sidecar: TestSidecar
  let nginx: RunningNginx

  /** What CI runs: copy the build over the web root without deleting anything, then notify. */
  const deploy = async (version: 'v1' | 'v2'): Promise<void> => {
    await cp(join(folder, version), root, { recursive: true, force: true })
    const exit = await runCli(['notify', '--url', sidecar.url, '--app', APP, '--version', version], {
      NOTIFY_TOKEN: TOKEN,
    })
    expect(exit.code, exit.stderr).toBe(0)
  }
  const prune = (...args: string[]) => runCli(['prune', '--dir', root, '--url', sidecar.url, '--app', APP, ...args])
  const listed = (stdout: string, verb: string) =>
    stdout
      .split('\n')
      .filter((line) => line.startsWith(`${verb} `))
      .map((line) => line.slice(verb.length + 1).replace(/ \(\d+(\.\d)? k?B\)$/, ''))

  beforeAll(async () => {
    if (missing.length > 0)
      throw new Error(`${missing.join(' and ')} required in CI: apt-get install nginx-light chromium`)
    folder = await mkdtemp(join(tmpdir(), 'deploy-notify-prune-e2e-'))
    await chmod(folder, 0o755) // nginx's workers run as nobody
    await buildExample('v1', join(folder, 'v1'))
    await buildExample('v2', join(folder, 'v2'))
    root = join(folder, 'www')
    await cp(join(folder, 'v1'), root, { recursive: true })
    sidecar = await startTestSidecar({ RETRY_MS: '200' })
    nginx = await startNginx(nginxBinary!, { root, upstream: `127.0.0.1:${sidecar.port}` })
  }, 90_000)

  afterAll(async () => {
    await nginx?.stop()
    await sidecar?.close()
    if (folder) await rm(folder, { recursive: true, force: true })
  })

  it('an open v1 page still loads its lazy chunk after v2; once it closes, only v1-only files go', async () => {
    await deploy('v1')
    const page = await browser.open(`${nginx.url}/`)
    expect(await page.getByTestId('version').textContent()).toBe('v1')
    await waitForStreams(sidecar.url, APP, 1, 20_000)

    await deploy('v2')
    const withV1Open = await fileTree(root)
    const kept = await prune()
    expect(kept.stderr).toBe('')
    expect(kept.code).toBe(0)
    expect(kept.stdout).toContain('keep   "v1": 1 open page')
    expect(listed(kept.stdout, 'deleted')).toEqual([])
    expect(await fileTree(root)).toEqual(withV1Open)
    // The old page's report chunk was never loaded; it still is there to load.
    await page.getByRole('button', { name: 'Open the report' }).click()
    await page.getByRole('heading', { name: 'Report of version v1' }).waitFor({ timeout: 20_000 })

    await page.context().close()
    // Pages, not streams: a closed browser's pages stay counted a few seconds (a tab may take over).
    await waitForPages(sidecar.url, APP, 0, 20_000)
    const before = await fileTree(root)
    const v1 = await fileTree(join(folder, 'v1'))
    const v2 = await fileTree(join(folder, 'v2'))
    const v1Only = Object.keys(v1).filter((path) => !(path in v2))
    const shared = Object.keys(v1).filter((path) => path in v2 && !path.startsWith('.deploy-notify/'))
    expect(v1Only).toContainEqual(expect.stringMatching(/^assets\/report-.*\.js$/))
    expect(shared).toContainEqual(expect.stringMatching(/^assets\/.*\.css$/)) // same content, same name

    // Without the counts nothing goes: the sidecar is down, as far as prune can tell.
    const down = await runCli(['prune', '--dir', root, '--url', `http://127.0.0.1:${await freePort()}`, '--app', APP])
    expect(down.code).toBe(3)
    expect(await fileTree(root)).toEqual(before)

    const dry = await prune('--dry-run')
    expect(dry.code).toBe(0)
    expect(await fileTree(root)).toEqual(before)
    const real = await prune()
    expect(real.stderr).toBe('')
    expect(real.code).toBe(0)
    expect(listed(real.stdout, 'deleted').sort()).toEqual(v1Only.sort())
    expect(listed(dry.stdout, 'would delete')).toEqual(listed(real.stdout, 'deleted'))
    expect(real.stdout).toMatch(/deploy-notify: deleted \d+ files .*, freed \d+(\.\d)? k?B\n$/)

    // Everything v2 built is there as built, shared files included; nothing else is gone.
    const after = await fileTree(root)
    for (const [path, hash] of Object.entries(v2)) expect(after[path], path).toBe(hash)
    expect(Object.keys(after).sort()).toEqual(
      Object.keys(before)
        .filter((path) => !v1Only.includes(path))
        .sort(),
    )
    // And the site works: a new page runs v2 and loads its own report chunk.
    const fresh = await browser.open(`${nginx.url}/`)
    expect(await fresh.getByTestId('version').textContent()).toBe('v2')
    await fresh.getByRole('button', { name: 'Open the report' }).click()
    await fresh.getByRole('heading', { name: 'Report of version v2' }).waitFor({ timeout: 20_000 })
  }, 240_000)
})
