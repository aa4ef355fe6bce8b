import { execFile } from 'node:child_process'
import { cp, mkdir, mkdtemp, readdir, readFile, rm, symlink, copyFile, writeFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { getJson } from './helpers/http.js'
import { startTestSidecar, TOKEN } from './helpers/sidecar.js'

// The package as users get it: `npm pack`, installed from the tarball (offline, from npm's cache)
// into a fresh app made with `npm init -y` (a CommonJS package, as npm writes it), its bin run
// with npx --no, every entry imported, the build plugins loaded from CommonJS configs, its
// declarations type-checked.
const REPO = fileURLToPath(new URL('../', import.meta.url))
const CONSUMER = fileURLToPath(new URL('./fixtures/package-consumer/', import.meta.url))
/** An app whose vite.config.js and webpack.config.js are CommonJS (no "type": "module" above them). */
const CJS_APP = fileURLToPath(new URL('./fixtures/ci-app/', import.meta.url))
/** What an app that uses the framework entries has installed itself (optional peers of deploy-notify). */
const PEERS = [
  'vue',
  'vue-router',
  'react',
  'react-dom',
  'react-router',
  '@types/react',
  '@types/node',
  'vite',
  'webpack',
  'html-webpack-plugin',
]

interface Run {
  code: number
  stdout: string
  stderr: string
}

function run(command: string, args: string[], cwd: string, timeoutMs = 120_000): Promise<Run> {
  return runWith(command, args, cwd, process.env, timeoutMs)
}

function runWith(
  command: string,
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv,
  timeoutMs = 120_000,
): Promise<Run> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd, env, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
    )
  })
}

/** The built index.html of README's first way in, before stamp. */
const BUILT_INDEX = `<!doctype html>
<html lang="en">
  <head>
    <title>web</title>
    <script src="https://sidecar.example/client.js" data-app="web" defer></script>
  </head>
  <body></body>
</html>
`

/**
 * Every deploy-notify command in the sh blocks of README.md and docs/*.md, in reading order,
 * with the `cp` that copies a build between them; not `serve` (it runs until stopped), not
 * the CI recipes' scripts (test/ci-recipes.test.ts runs those), not the app's own steps.
 */
async function documentedCommands(): Promise<{ page: string; command: string }[]> {
  const pages = ['README.md', ...(await readdir(join(REPO, 'docs'))).sort().map((name) => `docs/${name}`)]
  const commands: { page: string; command: string }[] = []
  for (const page of pages) {
    const text = await readFile(join(REPO, page), 'utf8')
    for (const [, block = ''] of text.matchAll(/^```sh\n([\s\S]*?)^```$/gm)) {
      if (block.startsWith('#!')) continue
      for (const line of block.replace(/\\\n\s*/g, '').split('\n')) {
        const command = line.trim()
        expect(command, `${page}: npx --no, so npx never fetches a namesake`).not.toMatch(/npx deploy-notify/)
        const runs = /npx --no deploy-notify (?!serve)/.test(command) || command.startsWith('cp ')
        if (runs) commands.push({ page, command })
      }
    }
  }
  return commands
}

describe('the packed package', () => {
  let folder: string
  let app: string
  let files: string[]

  beforeAll(async () => {
    folder = await mkdtemp(join(tmpdir(), 'deploy-notify-pack-'))
    const packed = await run('npm', ['pack', '--json', '--pack-destination', folder], REPO)
    expect(packed.code, packed.stderr).toBe(0)
    const [info] = JSON.parse(packed.stdout) as { filename: string; files: { path: string }[] }[]
    files = info!.files.map((file) => file.path)
    app = join(folder, 'app')
    await mkdir(app)
    const init = await run('npm', ['init', '-y'], app)
    expect(init.code, init.stderr).toBe(0)
    const installed = await run(
      'npm',
      ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', join(folder, info!.filename)],
      app,
    )
    expect(installed.code, installed.stderr).toBe(0)
    // Every dependency supports the Node versions the package does (engines: >=20).
    expect(installed.stderr).not.toMatch(/EBADENGINE/)
    // The app's own frameworks, as it would have installed them.
    for (const name of PEERS) {
      await mkdir(join(app, 'node_modules', name, '..'), { recursive: true })
      await symlink(join(REPO, 'node_modules', name), join(app, 'node_modules', name))
    }
    for (const name of await readdir(CONSUMER)) await copyFile(join(CONSUMER, name), join(app, name))
    await cp(CJS_APP, join(app, 'web'), { recursive: true })
  }, 180_000)

  afterAll(async () => {
    if (folder) await rm(folder, { recursive: true, force: true })
  })

  it('holds the built package and nothing from test/, bench/ or examples/', () => {
    expect(files).toEqual(expect.arrayContaining(['package.json', 'README.md', 'nginx.conf', 'dist/cli/cli.js']))
    for (const plugin of ['vite-plugin', 'webpack-plugin'])
      expect(files).toEqual(
        expect.arrayContaining([`dist/build-time/${plugin}.cjs`, `dist/build-time/${plugin}.d.cts`]),
      )
    expect(files.filter((path) => /^(test|bench|examples|client|server|build-time|cli|contract)\//.test(path))).toEqual(
      [],
    )
    for (const entry of [
      'client/index',
      'client/frameworks/vue',
      'client/frameworks/react',
      'client/frameworks/react-router',
      'build-time/vite-plugin',
      'build-time/webpack-plugin',
    ]) {
      expect(files).toEqual(expect.arrayContaining([`dist/${entry}.js`, `dist/${entry}.d.ts`]))
    }
  })

  it('is a CommonJS app, as npm init -y makes it', async () => {
    const pkg = JSON.parse(await readFile(join(app, 'package.json'), 'utf8')) as { type?: string }
    expect(pkg.type ?? 'commonjs').toBe('commonjs')
  })

  it('runs its bin with npx --no: help and version as words, and each command with --help', async () => {
    const help = await run('npx', ['--no', 'deploy-notify', 'help'], app, 30_000)
    expect(help.code, help.stderr).toBe(0)
    expect(help.stdout).toMatch(/^Usage: deploy-notify <command>/)
    expect(help.stdout).toMatch(/serve/)
    const version = await run('npx', ['--no', 'deploy-notify', 'version'], app, 30_000)
    expect(version.stdout).toBe(
      `${(JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8')) as { version: string }).version}\n`,
    )
    const notifyHelp = await run('npx', ['--no', 'deploy-notify', 'notify', '--help'], app, 30_000)
    expect(notifyHelp.stdout).toMatch(/^Usage: deploy-notify notify /)
  })

  it('loads the build plugins from a CommonJS vite.config.js and a require-based webpack.config.js', async () => {
    const web = join(app, 'web')
    // Outside a git repository (as in a Docker build), the plugins take the version from here.
    const env: NodeJS.ProcessEnv = { ...process.env, DEPLOY_NOTIFY_VERSION: 'cjs-1' }
    delete env.NODE_ENV
    delete env.VITEST
    const stamped = async (bundler: string) => {
      const html = await readFile(join(web, 'dist', 'index.html'), 'utf8')
      expect(html, bundler).toMatch(
        /<script src="?\/deploy-notify\/client\.js"? data-version="cjs-1" data-app="web" data-build-time="?[^" ]+"? defer><\/script>/,
      )
      expect(JSON.parse(await readFile(join(web, 'dist', 'version.json'), 'utf8'))).toMatchObject({
        version: 'cjs-1',
        app: 'web',
      })
    }
    const vite = await runWith(
      process.execPath,
      [join(app, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--logLevel', 'warn'],
      web,
      env,
    )
    expect(vite.code, vite.stdout + vite.stderr).toBe(0)
    await stamped('vite')
    const script = `require('webpack')(require('./webpack.config.js'), (error, stats) => {
      if (error || stats.hasErrors()) { console.error(error ?? stats.toString('errors-only')); process.exit(1) }
    })`
    const webpack = await runWith(process.execPath, ['-e', script], web, env)
    expect(webpack.code, webpack.stdout + webpack.stderr).toBe(0)
    await stamped('webpack')
  }, 90_000)

  it('runs every command README and docs/ show, as shown, from the app', async () => {
    const sidecar = await startTestSidecar()
    const webRoot = await mkdtemp(join(folder, 'www-'))
    // The app's public URL, for --wait-live: the web root as a web server serves it.
    const site = createServer((request, response) => {
      readFile(join(webRoot, new URL(request.url ?? '/', 'http://x').pathname)).then(
        (body) => response.end(body),
        () => response.writeHead(404).end(),
      )
    })
    await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve))
    const siteUrl = `http://127.0.0.1:${(site.address() as AddressInfo).port}`
    try {
      await mkdir(join(app, 'dist'), { recursive: true })
      await writeFile(join(app, 'dist', 'index.html'), BUILT_INDEX)
      const env = {
        PATH: [dirname(process.execPath), '/usr/local/bin', '/usr/bin', '/bin'].join(':'),
        HOME: process.env.HOME ?? tmpdir(),
        NOTIFY_TOKEN: TOKEN,
        DEPLOY_NOTIFY_TOKEN: TOKEN,
        GIT_SHA: '4f2a9c1',
        CI_PIPELINE_IID: '7',
        PREVIOUS_RELEASE: 'r1',
      }
      const commands = await documentedCommands()
      expect(commands.filter((c) => c.page === 'README.md').length).toBeGreaterThanOrEqual(3)
      for (const { page, command } of commands) {
        const local = command
          .replaceAll('https://sidecar.example', sidecar.url)
          .replaceAll('https://app.example', siteUrl)
          .replaceAll('/srv/www', webRoot)
          .replaceAll('/srv/releases', join(folder, 'releases'))
        const exit = await runWith('bash', ['-eo', 'pipefail', '-c', local], app, env, 30_000)
        expect(exit.code, `${page}: ${command}\n${exit.stdout}${exit.stderr}`).toBe(0)
      }
      expect((await getJson(`${sidecar.url}/version?app=web`)).json).toMatchObject({ version: '4f2a9c1' })
    } finally {
      site.close()
      await sidecar.close()
    }
  }, 120_000)

  it('imports every entry in plain Node, and renders the hook, the composable and <NavigationCheck> on a server', async () => {
    const ssr = await run(process.execPath, ['ssr.mjs'], app, 30_000)
    expect(ssr.code, ssr.stderr).toBe(0)
    expect(JSON.parse(ssr.stdout)).toEqual({
      react: '<p>current</p>',
      vue: '<p>current</p>',
      checks: [false, false],
      plugins: ['function', 'function'],
      browser: false,
    })
  })

  it("type-checks an app's code against its declarations", async () => {
    const tsc = await run(process.execPath, [join(REPO, 'node_modules/typescript/bin/tsc'), '-p', app], app, 60_000)
    expect(tsc.code, tsc.stdout + tsc.stderr).toBe(0)
  }, 90_000)
})
