import { cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { waitForStreams } from './client/sidecars.js'
import { fileTree as tree } from './helpers/file-tree.js'
import { freePort } from './helpers/free-port.js'
import { notify } from './helpers/http.js'
import { runCli } from './helpers/process.js'
import { openRawStreams, type RawStream } from './helpers/raw-streams.js'
import { startTestSidecar, type TestSidecar } from './helpers/sidecar.js'
import { deployStampedBuild } from './helpers/stamped-builds.js'

// `deploy-notify prune` as CI runs it, on web roots made of small stamped builds copied over
// each other, against the real sidecar. The same flow on real Vite builds with a browser page
// open is in prune-e2e.test.ts; here are the rules' edges.
let folder: string
let root: string
let sidecar: TestSidecar
const streams: RawStream[] = []
beforeEach(async () => {
  folder = await mkdtemp(join(tmpdir(), 'deploy-notify-prune-'))
  root = join(folder, 'www')
  await mkdir(root)
  sidecar = await startTestSidecar()
})
afterEach(async () => {
  for (const s of streams.splice(0)) s.socket.destroy()
  await sidecar.close()
  await rm(folder, { recursive: true, force: true })
})

const SHARED = { 'assets/shared.css': 'body { color: teal }\n', 'img/logo.svg': '<svg/>' }

/** Builds and stamps `version` with these files, then copies it over the web root without deleting. */
const deploy = (version: string, files: Record<string, string>, now?: Date) =>
  deployStampedBuild(folder, root, version, files, now)

const prune = (...args: string[]) => runCli(['prune', '--dir', root, '--url', sidecar.url, '--app', 'web', ...args])

async function openPages(version: string, count = 1): Promise<RawStream[]> {
  const opened = await openRawStreams(sidecar.port, count, `/events?app=web&version=${version}`)
  streams.push(...opened)
  await waitForStreams(sidecar.url, 'web', streams.length, 20_000)
  return opened
}

async function closePages(): Promise<void> {
  for (const s of streams.splice(0)) s.socket.destroy()
  await waitForStreams(sidecar.url, 'web', 0, 20_000)
}

// Each test runs the CLI several times, each a process of its own: slow on a busy machine.
describe('deploy-notify prune', { timeout: 90_000 }, () => {
  beforeEach(async () => {
    await deploy('v1', { ...SHARED, 'assets/app-1.js': 'one', 'assets/lazy-1.js': 'lazy one', 'old.html': 'x' })
    await notify(sidecar.url, { app: 'web', version: 'v1' })
    await deploy('v2', { ...SHARED, 'assets/app-2.js': 'two' })
    await notify(sidecar.url, { app: 'web', version: 'v2' })
  }, 60_000)

  it('keeps what an open page runs, then deletes only the old files; --dry-run lists the same and deletes nothing', async () => {
    await openPages('v1')
    const before = await tree(root)
    const kept = await prune()
    expect(kept.stderr).toBe('')
    expect(kept.code).toBe(0)
    expect(kept.stdout).toContain('keep   "v1": 1 open page')
    expect(kept.stdout).toMatch(/deleted 0 files .* freed 0 B/)
    expect(await tree(root)).toEqual(before)

    await closePages()
    // Without --app, the app is the one the web root's version.json names: the same plan.
    const dry = await runCli(['prune', '--dir', root, '--url', sidecar.url, '--dry-run'])
    expect(dry.code).toBe(0)
    expect(await tree(root)).toEqual(before)
    const real = await prune()
    expect(real.code).toBe(0)
    const deleted = real.stdout.split('\n').filter((line) => line.startsWith('deleted '))
    expect(deleted.map((line) => line.replace(/ \(.*/, ''))).toEqual([
      'deleted assets/app-1.js',
      'deleted assets/lazy-1.js',
      'deleted old.html',
      'deleted .deploy-notify/versions/v1.json',
    ])
    expect(dry.stdout.split('\n').filter((line) => line.startsWith('would delete '))).toEqual(
      deleted.map((line) => line.replace(/^deleted/, 'would delete')),
    )
    expect(real.stdout).toMatch(
      /deploy-notify: deleted 4 files of app "web" \(old versions: "v1"\) in .*, freed \d+ B\n$/,
    )
    expect(dry.stdout).toMatch(/would delete 4 files .*, which would free \d+ B\n$/)

    const after = await tree(root)
    const gone = ['assets/app-1.js', 'assets/lazy-1.js', 'old.html', '.deploy-notify/versions/v1.json']
    expect(after).toEqual(Object.fromEntries(Object.entries(before).filter(([path]) => !gone.includes(path))))
    // Everything v2 needs is there, as v2 built it.
    const v2 = await tree(join(folder, 'dist-v2'))
    for (const [path, hash] of Object.entries(v2)) expect(after[path], path).toBe(hash)
    expect((await prune()).stdout).toMatch(/deleted 0 files/) // nothing left to do
  })

  it('keeps a file overwritten with other content, one no build lists, and one behind a symlink', async () => {
    await writeFile(join(root, 'old.html'), 'edited by hand')
    await writeFile(join(root, 'assets', 'unlisted.js'), 'copied by hand')
    await mkdir(join(folder, 'elsewhere'))
    await writeFile(join(folder, 'elsewhere', 'lazy-1.js'), 'lazy one') // the content v1 recorded
    await rm(join(root, 'assets', 'lazy-1.js'))
    await rm(join(root, 'img'), { recursive: true })
    await symlink(join(folder, 'elsewhere'), join(root, 'img'))
    const manifest = JSON.parse(await readFile(join(root, '.deploy-notify/versions/v1.json'), 'utf8')) as {
      files: Record<string, unknown>
    }
    manifest.files['img/lazy-1.js'] = manifest.files['assets/lazy-1.js']
    await writeFile(join(root, '.deploy-notify/versions/v1.json'), JSON.stringify(manifest))

    const exit = await prune()
    expect(exit.code).toBe(0)
    expect(exit.stdout).toContain('kept old.html: its content is not what the old builds recorded')
    expect(exit.stdout).toContain('kept img/lazy-1.js: img is a symlink')
    expect(exit.stdout).toContain('deleted assets/app-1.js')
    expect(await readFile(join(root, 'old.html'), 'utf8')).toBe('edited by hand')
    expect(await readFile(join(root, 'assets', 'unlisted.js'), 'utf8')).toBe('copied by hand')
    expect(await readFile(join(folder, 'elsewhere', 'lazy-1.js'), 'utf8')).toBe('lazy one')
  })

  it('deletes nothing and exits 3 when the sidecar cannot be asked, 1 for an app it or the web root does not know', async () => {
    const before = await tree(root)
    const down = await runCli(['prune', '--dir', root, '--url', `http://127.0.0.1:${await freePort()}`, '--app', 'web'])
    expect(down.code).toBe(3)
    expect(down.stderr).toMatch(/could not reach .*nothing was deleted/)
    const mistyped = await runCli(['prune', '--dir', root, '--url', sidecar.url, '--app', 'webb'])
    expect(mistyped.code).toBe(1)
    expect(mistyped.stderr).toMatch(/records app "web", not "webb": check --app; nothing was deleted/)
    // A sidecar that lost its state (a new DATA_DIR) knows nothing of the app.
    await sidecar.close()
    sidecar = await startTestSidecar()
    const unknown = await prune()
    expect(unknown.code).toBe(1)
    expect(unknown.stderr).toMatch(/the sidecar knows no app "web" .*; nothing was deleted/)
    expect(await tree(root)).toEqual(before)
  })

  it('deletes nothing while a manifest is broken or lists a path outside the web root', async () => {
    await writeFile(join(folder, 'outside.txt'), 'precious')
    const path = join(root, '.deploy-notify/versions/v1.json')
    const manifest = JSON.parse(await readFile(path, 'utf8')) as { files: Record<string, unknown> }
    manifest.files['../outside.txt'] = manifest.files['assets/app-1.js']
    await writeFile(path, JSON.stringify(manifest))
    const before = await tree(folder)
    const exit = await prune()
    expect(exit.code).toBe(1)
    expect(exit.stderr).toMatch(
      /v1\.json is not a deploy-notify manifest \(it lists "\.\.\/outside\.txt", which is not a path inside the web root\); nothing was deleted/,
    )
    expect(await tree(folder)).toEqual(before)
  })

  it('reads manifests from the web root itself only, never through a symlink', async () => {
    await cp(join(root, '.deploy-notify'), join(folder, 'manifests'), { recursive: true })
    await rm(join(root, '.deploy-notify'), { recursive: true })
    await symlink(join(folder, 'manifests'), join(root, '.deploy-notify'))
    const before = await tree(root)
    const exit = await prune()
    expect(exit.code).toBe(1)
    expect(exit.stderr).toMatch(/\.deploy-notify is a symlink: prune reads manifests from the web root itself only/)
    expect(await tree(root)).toEqual(before)
  })

  it('deletes nothing while a page reports no version, and keeps a build copied but not yet announced', async () => {
    const before = await tree(root)
    await openRawStreams(sidecar.port, 1, '/events?app=web').then((s) => streams.push(...s))
    await waitForStreams(sidecar.url, 'web', 1, 20_000)
    const blocked = await prune()
    expect(blocked.code).toBe(0)
    expect(blocked.stdout).toMatch(/nothing deleted in .*: 1 open page report no version \("unknown"\)/)
    expect(await tree(root)).toEqual(before)
    await closePages()

    // v3 is being copied: its manifest is there, version.json still says v2, CI has not notified.
    await deploy('v3', { 'assets/app-3.js': 'three' }, new Date(Date.now() + 1000))
    await writeFile(join(root, 'version.json'), JSON.stringify({ version: 'v2', app: 'web' }))
    const exit = await prune()
    expect(exit.stdout).toContain('keep   "v3": built after the current deploy')
    expect(await readFile(join(root, 'assets', 'app-3.js'), 'utf8')).toBe('three')
    expect(exit.stdout).toContain('deleted assets/app-1.js')
  })

  it('keeps the versions a browser claims past the caps: a straggler past the page cap, and "other" past the version cap', async () => {
    const before = await tree(root)
    const claim = (pages: Record<string, number>) =>
      openRawStreams(sidecar.port, 1, `/events?app=web&version=v2&pages=${encodeURIComponent(JSON.stringify(pages))}`)
    streams.push(...(await claim({ v2: 100, v1: 1 })))
    await waitForStreams(sidecar.url, 'web', 1, 20_000)
    const kept = await prune()
    expect(kept.code).toBe(0)
    expect(kept.stdout).toContain('keep   "v1": 1 open page')
    expect(await tree(root)).toEqual(before)
    await closePages()

    // v1 is the least-run of 25 versions in one browser: not named, but counted.
    streams.push(...(await claim({ v1: 1, ...Object.fromEntries(Array.from({ length: 24 }, (_, i) => [`x${i}`, 2])) })))
    await waitForStreams(sidecar.url, 'web', 1, 20_000)
    const blocked = await prune()
    expect(blocked.code).toBe(0)
    expect(blocked.stdout).toMatch(/nothing deleted in .*: 11 open pages run versions the sidecar sums as "other"/)
    expect(await tree(root)).toEqual(before)
  })

  it('--keep-for keeps a version replaced within that time (a laptop asleep holds no stream), and refuses a bad duration', async () => {
    const before = await tree(root)
    const kept = await prune('--keep-for', '1h')
    expect(kept.code).toBe(0)
    expect(kept.stdout).toMatch(/keep {3}"v1": current until \S+, within --keep-for 1h/)
    expect(kept.stdout).toMatch(/deleted 0 files/)
    expect(await tree(root)).toEqual(before)

    const bad = await prune('--keep-for', 'a week')
    expect(bad.code).toBe(2)
    expect(bad.stderr).toMatch(/--keep-for "a week" is not a duration such as 500ms, 30s, 5m, 1h or 7d/)
  })
})
