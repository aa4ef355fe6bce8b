import { createHash } from 'node:crypto'
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { build } from 'vite'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { manifestFileName, parseManifest, readManifests, type VersionManifest } from '../build-time/version-manifest.js'
import deployNotify from '../build-time/vite-plugin.js'
import { runCli } from './helpers/process.js'

// What each build records for prune: `stamp` and the Vite plugin write the same manifest.
let root: string
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'deploy-notify-manifest-'))
})
afterEach(async () => {
  await rm(root, { recursive: true, force: true })
})

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex')
const record = (text: string) => ({ size: Buffer.byteLength(text), sha256: sha256(text) })
const INDEX = '<html><head><script src="/dn/client.js" defer></script></head></html>\n'

async function manifestOf(dist: string, version: string): Promise<VersionManifest> {
  const text = await readFile(join(dist, '.deploy-notify', 'versions', manifestFileName(version)), 'utf8')
  const parsed = parseManifest(text, manifestFileName(version))
  if (typeof parsed === 'string') throw new Error(parsed)
  return parsed
}

describe('deploy-notify stamp records the build', () => {
  it('lists every file as stamped, with size and SHA-256, but no symlink and nothing of .deploy-notify', async () => {
    const dist = join(root, 'dist')
    await mkdir(join(dist, 'assets', 'img'), { recursive: true })
    await writeFile(join(dist, 'index.html'), INDEX)
    await writeFile(join(dist, 'assets', 'app-1.js'), 'console.log(1)\n')
    await writeFile(join(dist, 'assets', 'img', 'logo.svg'), '<svg/>')
    await symlink('/etc/hostname', join(dist, 'assets', 'link'))
    const exit = await runCli(['stamp', '--dist', dist, '--version', 'release/1.2', '--app', 'web'])
    expect(exit.stderr).toBe('')
    expect(exit.code).toBe(0)
    expect(exit.stdout).toContain('.deploy-notify/versions/release%2F1.2.json')

    const manifest = await manifestOf(dist, 'release/1.2')
    const stamped = await readFile(join(dist, 'index.html'), 'utf8')
    const versionJson = await readFile(join(dist, 'version.json'), 'utf8')
    expect(manifest).toEqual({
      format: 1,
      app: 'web',
      version: 'release/1.2',
      time: (JSON.parse(versionJson) as { time: string }).time,
      files: {
        'assets/app-1.js': record('console.log(1)\n'),
        'assets/img/logo.svg': record('<svg/>'),
        'index.html': record(stamped),
        'version.json': record(versionJson),
      },
    })
  })

  it('refuses a folder holding other versions (a web root), and changes nothing', async () => {
    const dist = join(root, 'dist')
    await mkdir(dist)
    await writeFile(join(dist, 'index.html'), INDEX)
    expect((await runCli(['stamp', '--dist', dist, '--version', 'v1'])).code).toBe(0)
    const exit = await runCli(['stamp', '--dist', dist, '--version', 'v2'])
    expect(exit.code).toBe(1)
    expect(exit.stderr).toMatch(
      /already stamped with version "v1", not "v2".*\(a web root.*: stamp a build before copying it/,
    )
    expect(await readFile(join(dist, 'index.html'), 'utf8')).toContain('data-version="v1"')
    expect(await readdir(join(dist, '.deploy-notify', 'versions'))).toEqual(['v1.json'])
  })
})

describe('deploy-notify/vite records the build', () => {
  it("lists the bundle's files and the public folder's, not older files left in the folder", async () => {
    await mkdir(join(root, 'public'))
    await writeFile(join(root, 'public', 'robots.txt'), 'User-agent: *\n')
    await writeFile(
      join(root, 'index.html'),
      INDEX.replace('</head>', '</head><script type="module" src="/main.js"></script>'),
    )
    await writeFile(join(root, 'main.js'), 'console.log(import.meta.env.DEPLOY_NOTIFY_VERSION)\n')
    const outDir = join(root, 'dist')
    await mkdir(outDir)
    await writeFile(join(outDir, 'left-over.js'), 'old\n')
    await build({
      root,
      configFile: false,
      logLevel: 'silent',
      plugins: [deployNotify({ version: 'v3', app: 'web' })],
      build: { outDir, emptyOutDir: false },
    })
    const manifest = await manifestOf(outDir, 'v3')
    const assets = (await readdir(join(outDir, 'assets'))).map((name) => `assets/${name}`)
    expect(Object.keys(manifest.files).sort()).toEqual([...assets, 'index.html', 'robots.txt', 'version.json'].sort())
    expect(manifest.files['robots.txt']).toEqual(record('User-agent: *\n'))
    expect(manifest.files['index.html']).toEqual(record(await readFile(join(outDir, 'index.html'), 'utf8')))
    expect(manifest).toMatchObject({ app: 'web', version: 'v3' })
  })
})

describe('manifests as prune reads them', () => {
  it('names a file after its version so that no version names another path', () => {
    expect(manifestFileName('v1.2.3')).toBe('v1.2.3.json')
    expect(manifestFileName('../x')).toBe('%2E.%2Fx.json')
    expect(manifestFileName('..')).toBe('%2E..json')
    expect(manifestFileName('a b/c\\d')).toBe('a%20b%2Fc%5Cd.json')
  })

  const valid = { format: 1, app: 'web', version: 'v1', time: '2026-01-01T00:00:00.000Z' }
  const hash = { size: 1, sha256: 'a'.repeat(64) }
  it.each([
    ['a path with ..', { 'assets/../../etc/passwd': hash }, /not a path inside the web root/],
    ['an absolute path', { '/etc/passwd': hash }, /not a path inside the web root/],
    ['a backslash', { 'assets\\..\\x': hash }, /not a path inside the web root/],
    ['an empty segment', { 'assets//x.js': hash }, /not a path inside the web root/],
    ['a manifest', { '.deploy-notify/versions/v2.json': hash }, /not a path inside the web root/],
    ['a bad hash', { 'a.js': { size: 1, sha256: 'xyz' } }, /no valid size and sha256/],
  ])('refuses a manifest that lists %s', (_name, files, reason) => {
    expect(parseManifest(JSON.stringify({ ...valid, files }), 'v1.json')).toMatch(reason)
  })

  it('refuses a manifest whose name is not its version, and reads none while one is broken', async () => {
    expect(parseManifest(JSON.stringify({ ...valid, files: {} }), 'v2.json')).toMatch(/does not match its version/)
    const folder = join(root, '.deploy-notify', 'versions')
    await mkdir(folder, { recursive: true })
    await writeFile(join(folder, 'v1.json'), JSON.stringify({ ...valid, files: { 'a.js': hash } }))
    await writeFile(join(folder, '.v2.json.0a1b.tmp'), 'half a file') // a writer's temporary file
    expect(await readManifests(root)).toMatchObject([{ version: 'v1' }])
    await writeFile(join(folder, 'v2.json'), '{"format": 1,')
    await expect(readManifests(root)).rejects.toThrow(/v2\.json is not a deploy-notify manifest \(invalid JSON/)
  })
})
