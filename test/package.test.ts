import { execFile } from 'node:child_process'
import { mkdir, mkdtemp, readdir, rm, symlink, copyFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

// The package as users get it: `npm pack`, installed into a fresh app from the tarball (offline,
// from npm's cache), its bin run with npx, every entry imported, its declarations type-checked.
const REPO = fileURLToPath(new URL('../', import.meta.url))
const CONSUMER = fileURLToPath(new URL('./fixtures/package-consumer/', import.meta.url))
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
]

interface Run {
  code: number
  stdout: string
  stderr: string
}

function run(command: string, args: string[], cwd: string, timeoutMs = 120_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
    )
  })
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
    await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }))
    const installed = await run(
      'npm',
      ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', join(folder, info!.filename)],
      app,
    )
    expect(installed.code, installed.stderr).toBe(0)
    // The app's own frameworks, as it would have installed them.
    for (const name of PEERS) {
      await mkdir(join(app, 'node_modules', name, '..'), { recursive: true })
      await symlink(join(REPO, 'node_modules', name), join(app, 'node_modules', name))
    }
    for (const name of await readdir(CONSUMER)) await copyFile(join(CONSUMER, name), join(app, name))
  }, 180_000)

  afterAll(async () => {
    if (folder) await rm(folder, { recursive: true, force: true })
  })

  it('holds the built package and nothing from test/, bench/ or examples/', () => {
    expect(files).toEqual(expect.arrayContaining(['package.json', 'README.md', 'dist/cli/cli.js']))
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

  it('runs its bin with npx', async () => {
    const help = await run('npx', ['deploy-notify', '--help'], app, 30_000)
    expect(help.code, help.stderr).toBe(0)
    expect(help.stdout).toMatch(/^Usage: deploy-notify <command>/)
    expect(help.stdout).toMatch(/serve/)
  })

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
