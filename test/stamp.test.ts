import { execFileSync, spawn } from 'node:child_process'
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { StampError, stampHtml, versionJson } from '../build-time/stamp.js'
import { CLI, type Exit } from './helpers/process.js'

/** index.html as `vite build` writes it, with the client's tag as users add it. */
const VITE_INDEX = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="UTF-8" />
    <title>web</title>
    <script src="https://sidecar.example/client.js" defer></script>
    <script type="module" crossorigin src="/assets/index-BQ2xk1zM.js"></script>
    <link rel="stylesheet" crossorigin href="/assets/index-D8b4DwH5.css">
  </head>
  <body>
    <div id="app"></div>
  </body>
</html>
`

const TAG = '<script src="https://sidecar.example/client.js" defer></script>'

describe('stampHtml', () => {
  it('sets data-version and data-app on the client tag and leaves every other byte alone', () => {
    const { html, app, tag } = stampHtml(VITE_INDEX, { version: 'abc1234', app: 'web' })
    expect(html).toBe(
      VITE_INDEX.replace(
        TAG,
        '<script src="https://sidecar.example/client.js" data-version="abc1234" data-app="web" defer></script>',
      ),
    )
    expect({ app, tag }).toEqual({ app: 'web', tag: 'stamped' })
  })

  it('rewrites the attributes a tag already has, however they are quoted or cased', () => {
    const page = `<head><SCRIPT DATA-VERSION=old defer data-app='a' src=/dn/client.js?x=1></SCRIPT></head>`
    expect(stampHtml(page, { version: 'v2', app: 'b' }).html).toBe(
      `<head><SCRIPT data-version="v2" defer data-app="b" src=/dn/client.js?x=1></SCRIPT></head>`,
    )
    // Without --app the tag keeps its own, and that is the app version.json names.
    const kept = stampHtml(page, { version: 'v2' })
    expect(kept.html).toContain(`data-app='a'`)
    expect(kept.app).toBe('a')
    expect(stampHtml('<head><script src="client.js"></script>', { version: 'v1' }).app).toBe('default')
  })

  it('escapes attribute values, so a version cannot end the attribute or the tag', () => {
    const { html } = stampHtml(VITE_INDEX, { version: `a"b&c<d>'e` })
    expect(html).toContain(`data-version="a&quot;b&amp;c&lt;d&gt;'e"`)
  })

  it('ignores client.js in comments, in script text and in other attributes, and reads > inside quotes', () => {
    const page = `<html><head>
<!-- <script src="/old/client.js"></script> -->
<script>const s = '<script src="/x/client.js"><\\/script>'</script>
<link rel="preload" href="/dn/client.js" title="a>b">
<script data-note="x>y" src="/dn/client.js" defer></script>
</head></html>`
    const { html } = stampHtml(page, { version: 'v1' })
    expect(html).toBe(
      page.replace(
        '<script data-note="x>y" src="/dn/client.js" defer>',
        '<script data-note="x>y" src="/dn/client.js" data-version="v1" defer>',
      ),
    )
  })

  it('inserts the tag before </head> with a sidecar URL, indented like its neighbours', () => {
    const page = VITE_INDEX.replace(`    ${TAG}\n`, '')
    const { html, tag } = stampHtml(page, { version: 'v1', app: 'web', sidecar: 'https://sidecar.example/dn/' })
    expect(tag).toBe('inserted')
    expect(html).toBe(
      page.replace(
        '  </head>',
        '    <script src="https://sidecar.example/dn/client.js" data-version="v1" data-app="web" defer></script>\n  </head>',
      ),
    )
    // Minified HTML gets it inline; a path on the app's origin works as well.
    expect(
      stampHtml('<html><head><title>x</title></head><body></body></html>', { version: 'v1', sidecar: '/deploy-notify' })
        .html,
    ).toBe(
      '<html><head><title>x</title><script src="/deploy-notify/client.js" data-version="v1" defer></script></head><body></body></html>',
    )
  })

  it('points an existing tag at the given sidecar', () => {
    const { html } = stampHtml(VITE_INDEX, { version: 'v1', sidecar: 'https://staging.example' })
    expect(html).toContain('<script src="https://staging.example/client.js" data-version="v1" defer></script>')
    expect(html.match(/client\.js/g)).toHaveLength(1)
  })

  it('changes nothing when run again on its own output', () => {
    const inputs = [
      VITE_INDEX,
      VITE_INDEX.replace(TAG, ''),
      `<head><script src='/client.js' data-version='x'></script></head>`,
    ]
    const options = [{ version: 'v1' }, { version: 'v"2', app: 'web' }, { version: 'v3', sidecar: '/dn' }]
    for (const input of inputs) {
      for (const option of options) {
        let once: string
        try {
          once = stampHtml(input, option).html
        } catch (error) {
          expect(error).toBeInstanceOf(StampError) // the tag-less page without a sidecar
          continue
        }
        expect(stampHtml(once, option).html).toBe(once)
      }
    }
  })

  it('refuses what it cannot stamp, with a sentence that says why', () => {
    const page = VITE_INDEX.replace(`    ${TAG}\n`, '')
    expect(() => stampHtml(page, { version: 'v1' })).toThrow(
      /index\.html has no deploy-notify script tag: add <script src=/,
    )
    expect(stampHtml(page, { version: 'v1', ifMissing: 'skip' })).toMatchObject({ html: page, tag: 'missing' })
    expect(() => stampHtml(VITE_INDEX.replace(TAG, TAG + TAG), { version: 'v1' })).toThrow(
      /has 2 deploy-notify script tags/,
    )
    expect(() => stampHtml('<body></body>', { version: 'v1', sidecar: '/dn' })).toThrow(/no <\/head>/)
    expect(() => stampHtml(VITE_INDEX, { version: ' v1' })).toThrow(/--version " v1" must be 1-128 printable ASCII/)
    expect(() => stampHtml(VITE_INDEX, { version: 'x'.repeat(129) })).toThrow(StampError)
    expect(() => stampHtml(VITE_INDEX, { version: 'v1', app: 'my app' })).toThrow(/--app "my app"/)
    expect(() => stampHtml(VITE_INDEX, { version: 'v1', sidecar: 'ftp://x' })).toThrow(/--sidecar "ftp:\/\/x"/)
  })
})

describe('versionJson', () => {
  it('keeps the earlier time when nothing else changed, so stamping twice rewrites nothing', () => {
    const first = versionJson({ version: 'v1', app: 'web', time: '2026-01-01T00:00:00.000Z', packageVersion: '1.0.0' })
    expect(JSON.parse(first)).toEqual({
      version: 'v1',
      app: 'web',
      time: '2026-01-01T00:00:00.000Z',
      packageVersion: '1.0.0',
    })
    expect(
      versionJson({ version: 'v1', app: 'web', time: '2026-02-02T00:00:00.000Z', packageVersion: '1.0.0' }, first),
    ).toBe(first)
    expect(JSON.parse(versionJson({ version: 'v2', app: 'web', time: '2026-02-02T00:00:00.000Z' }, first))).toEqual({
      version: 'v2',
      app: 'web',
      time: '2026-02-02T00:00:00.000Z',
    })
    expect(
      JSON.parse(versionJson({ version: 'v1', app: 'web', time: '2026-02-02T00:00:00.000Z' }, '{oops')),
    ).toMatchObject({ version: 'v1' })
  })
})

/** Runs the built CLI's stamp in `cwd`, as CI does after the build. */
function stampCli(args: string[], cwd: string): Promise<Exit> {
  const child = spawn(process.execPath, [CLI, 'stamp', ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => (child.kill('SIGKILL'), reject(new Error(`stamp did not exit:\n${stdout}${stderr}`))),
      10_000,
    )
    child.on('close', (code, signal) => (clearTimeout(timer), resolve({ code, signal, stdout, stderr })))
  })
}

describe('deploy-notify stamp', () => {
  let project: string
  let dist: string

  beforeEach(async () => {
    project = await mkdtemp(join(tmpdir(), 'deploy-notify-stamp-'))
    dist = join(project, 'dist')
    await mkdir(dist)
    await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'web', version: '1.4.0' }))
    await writeFile(join(dist, 'index.html'), VITE_INDEX)
  })
  afterEach(async () => {
    await rm(project, { recursive: true, force: true })
  })

  const readJson = async (path: string): Promise<unknown> => JSON.parse(await readFile(path, 'utf8'))

  it('stamps index.html and writes version.json; run again, it rewrites nothing', async () => {
    const exit = await stampCli(['--dist', 'dist', '--version', 'abc1234', '--app', 'web'], project)
    expect(exit.stderr).toBe('')
    expect(exit.stdout).toBe(
      `deploy-notify: stamped index.html, version.json and .deploy-notify/versions/abc1234.json: app "web" version "abc1234" in ${dist}\n`,
    )
    expect(exit.code).toBe(0)
    const info = (await readJson(join(dist, 'version.json'))) as Record<string, unknown>
    // The tag says when the build was made, as version.json does.
    expect(await readFile(join(dist, 'index.html'), 'utf8')).toBe(
      stampHtml(VITE_INDEX, { version: 'abc1234', app: 'web', buildTime: String(info.time) }).html,
    )
    expect(info).toEqual({ version: 'abc1234', app: 'web', time: expect.any(String), packageVersion: '1.4.0' })
    expect(Math.abs(Date.parse(String(info.time)) - Date.now())).toBeLessThan(60_000)

    const before = await Promise.all(['index.html', 'version.json'].map((name) => stat(join(dist, name))))
    const again = await stampCli(['--dist', 'dist', '--version', 'abc1234', '--app', 'web'], project)
    expect(again.stdout).toBe(`deploy-notify: already stamped: app "web" version "abc1234" in ${dist}\n`)
    expect(again.code).toBe(0)
    const after = await Promise.all(['index.html', 'version.json'].map((name) => stat(join(dist, name))))
    expect(after.map((s) => [s.ino, s.mtimeMs])).toEqual(before.map((s) => [s.ino, s.mtimeMs]))
  })

  it('replaces each file by rename, keeping its mode, and leaves no temporary file behind', async () => {
    const index = join(dist, 'index.html')
    await chmod(index, 0o640)
    const before = await stat(index)
    expect((await stampCli(['--dist', dist, '--version', 'v1'], project)).code).toBe(0)
    const after = await stat(index)
    // A new inode: readers (nginx) had the whole old file or get the whole new one.
    expect(after.ino).not.toBe(before.ino)
    expect(after.mode & 0o777).toBe(0o640)
    expect((await stat(join(dist, 'version.json'))).mode & 0o777).toBe(0o644)
    expect((await readdir(dist)).sort()).toEqual(['.deploy-notify', 'index.html', 'version.json'])
    expect(await readdir(join(dist, '.deploy-notify', 'versions'))).toEqual(['v1.json'])
  })

  it('inserts the tag with --sidecar when index.html has none', async () => {
    const page = VITE_INDEX.replace(`    ${TAG}\n`, '')
    await writeFile(join(dist, 'index.html'), page)
    const exit = await stampCli(['--dist', 'dist', '--version', 'v1', '--sidecar', 'https://sidecar.example'], project)
    expect(exit.code).toBe(0)
    const info = (await readJson(join(dist, 'version.json'))) as Record<string, unknown>
    expect(info).toMatchObject({ version: 'v1', app: 'default' })
    const tag = `<script src="https://sidecar.example/client.js" data-version="v1" data-build-time="${String(info.time)}" defer></script>`
    expect(await readFile(join(dist, 'index.html'), 'utf8')).toBe(page.replace('  </head>', `    ${tag}\n  </head>`))
  })

  it('exits 1 naming the path when the folder or index.html is missing, or the tag is, and writes nothing', async () => {
    const noFolder = await stampCli(['--dist', 'build', '--version', 'v1'], project)
    expect(noFolder.code).toBe(1)
    expect(noFolder.stderr).toBe(
      `deploy-notify: ${join(project, 'build')} is not a folder (--dist): build the app first\n`,
    )

    await rm(join(dist, 'index.html'))
    const noIndex = await stampCli(['--dist', 'dist', '--version', 'v1'], project)
    expect(noIndex.code).toBe(1)
    expect(noIndex.stderr).toBe(
      `deploy-notify: ${join(dist, 'index.html')} does not exist: is ${dist} the built app?\n`,
    )

    await writeFile(join(dist, 'index.html'), '<html><head></head></html>')
    const noTag = await stampCli(['--dist', 'dist', '--version', 'v1'], project)
    expect(noTag.code).toBe(1)
    expect(noTag.stderr).toMatch(
      new RegExp(`^deploy-notify: ${join(dist, 'index.html')} has no deploy-notify script tag`),
    )
    expect(await readdir(dist)).toEqual(['index.html'])
  })

  it('exits 2 on a bad command line', async () => {
    for (const args of [
      [],
      ['--dist', 'dist', '--version', ''],
      ['--dist', 'dist', '--version', 'v1', '--app', 'a b'],
      ['--dist', 'dist', '--colour'],
    ]) {
      const exit = await stampCli(args, project)
      expect(exit.code, args.join(' ')).toBe(2)
      expect(exit.stderr).toMatch(/^deploy-notify: /)
    }
    const help = await stampCli(['--help'], project)
    expect(help.code).toBe(0)
    expect(help.stdout).toMatch(/^Usage: deploy-notify stamp --dist DIR/)
  })

  it('takes the git commit of the working tree when --version is not given, and says so when there is none', async () => {
    const outside = await stampCli(['--dist', 'dist'], project)
    expect(outside.code).toBe(2)
    expect(outside.stderr).toMatch(/^deploy-notify: --version is needed: no git commit in .*not a git repository/)

    const git = (...args: string[]) =>
      execFileSync('git', ['-c', 'user.name=CI', '-c', 'user.email=ci@example.com', ...args], {
        cwd: project,
        encoding: 'utf8',
      })
    git('init', '-q')
    git('commit', '-q', '--allow-empty', '-m', 'release')
    const commit = git('rev-parse', '--short', 'HEAD').trim()
    const exit = await stampCli(['--dist', 'dist'], project)
    expect(exit.code).toBe(0)
    expect(await readJson(join(dist, 'version.json'))).toMatchObject({ version: commit })
    expect(await readFile(join(dist, 'index.html'), 'utf8')).toContain(`data-version="${commit}"`)
  })
})
