import { execFileSync } from 'node:child_process'
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { build, createServer, type Plugin } from 'vite'
import { afterEach, beforeEach, describe, expect, expectTypeOf, it } from 'vitest'
import deployNotify, { type DeployNotifyOptions, type VersionSource } from '../build-time/vite-plugin.js'

// The plugin in real `vite build`s and a real dev server, on a small app in a temporary folder.
const TAG = '<script src="https://sidecar.example/client.js" defer></script>'

const indexHtml = (head: string) => `<!doctype html>
<html lang="en">
  <head>
    <meta charset="UTF-8" />
    <title>app</title>
    ${head}
  </head>
  <body>
    <div id="app"></div>
    <script type="module" src="/src/main.js"></script>
  </body>
</html>
`

let root: string

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'deploy-notify-vite-'))
  await mkdir(join(root, 'src'))
  await writeFile(join(root, 'package.json'), JSON.stringify({ name: 'app', version: '2.3.4', private: true }))
  await writeFile(join(root, 'index.html'), indexHtml(TAG))
  await writeFile(
    join(root, 'src', 'main.js'),
    'document.querySelector("#app").textContent = `running ${import.meta.env.DEPLOY_NOTIFY_VERSION} of ${import.meta.env.DEPLOY_NOTIFY_APP}`\n',
  )
})
afterEach(async () => {
  await rm(root, { recursive: true, force: true })
})

/** Builds the app with the plugin; resolves to what was written. */
async function viteBuild(plugin: Plugin): Promise<{ html: string; versionJson: Record<string, unknown>; js: string }> {
  const outDir = join(root, 'dist')
  await build({ root, configFile: false, logLevel: 'silent', plugins: [plugin], build: { outDir, emptyOutDir: true } })
  const assets = await readdir(join(outDir, 'assets'))
  const js = await Promise.all(
    assets.filter((name) => name.endsWith('.js')).map((name) => readFile(join(outDir, 'assets', name), 'utf8')),
  )
  return {
    html: await readFile(join(outDir, 'index.html'), 'utf8'),
    versionJson: JSON.parse(await readFile(join(outDir, 'version.json'), 'utf8')) as Record<string, unknown>,
    js: js.join('\n'),
  }
}

describe('deploy-notify/vite in vite build', () => {
  it('stamps the client tag, emits version.json and gives the code the version', async () => {
    const before = Date.now()
    const out = await viteBuild(deployNotify({ version: 'v7', app: 'web' }))
    // The build's time too, as version.json says it: the page never offers an older build.
    expect(out.html).toContain(
      `<script src="https://sidecar.example/client.js" data-version="v7" data-app="web" data-build-time="${String(out.versionJson.time)}" defer></script>`,
    )
    // Vite's own work is untouched: the entry became a hashed module script.
    expect(out.html).toMatch(/<script type="module" crossorigin src="\/assets\/index-[\w-]+\.js"><\/script>/)
    expect(out.versionJson).toEqual({ version: 'v7', app: 'web', time: expect.any(String), packageVersion: '2.3.4' })
    expect(Date.parse(String(out.versionJson.time))).toBeGreaterThanOrEqual(before - 1000)
    expect(out.js).toContain('running v7 of web')
  })

  it('takes the version from git, package.json, the clock or a function', async () => {
    const git = (...args: string[]) =>
      execFileSync('git', ['-c', 'user.name=CI', '-c', 'user.email=ci@example.com', ...args], {
        cwd: root,
        encoding: 'utf8',
      })
    git('init', '-q')
    git('commit', '-q', '--allow-empty', '-m', 'release')
    const commit = git('rev-parse', '--short', 'HEAD').trim()
    expect((await viteBuild(deployNotify())).versionJson.version).toBe(commit) // 'git' is the default
    expect((await viteBuild(deployNotify({ version: 'package' }))).versionJson.version).toBe('2.3.4')
    const stamped = (await viteBuild(deployNotify({ version: 'timestamp' }))).versionJson
    expect(stamped.version).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
    const out = await viteBuild(deployNotify({ version: async () => 'from-fn', app: 'fn' }))
    expect(out.html).toContain('data-version="from-fn" data-app="fn"')
  })

  it('inserts the tag for a sidecar option, and leaves a page without a tag alone otherwise', async () => {
    await writeFile(join(root, 'index.html'), indexHtml(''))
    const inserted = await viteBuild(deployNotify({ version: 'v1', sidecar: '/deploy-notify' }))
    expect(inserted.html).toMatch(
      /<title>app<\/title>\n[\s\S]*\n {4}<script src="\/deploy-notify\/client\.js" data-version="v1" data-build-time="[^"]+" defer><\/script>\n {2}<\/head>/,
    )
    // No sidecar: the client's two files in the build, and the tag that loads them with data-url="none".
    const noSidecar = await viteBuild(deployNotify({ version: 'v1', sidecar: 'none' }))
    expect(noSidecar.html).toContain(
      `<script src="/deploy-notify-client/client.js" data-version="v1" data-build-time="${String(noSidecar.versionJson.time)}" data-url="none" defer></script>`,
    )
    for (const name of ['client.js', 'client-ui.js'])
      expect(await readFile(join(root, 'dist', 'deploy-notify-client', name), 'utf8')).toBe(
        await readFile(new URL(`../dist/client/${name}`, import.meta.url), 'utf8'),
      )
    // The module API (deploy-notify/client) needs no tag: the page stays as Vite wrote it, version.json still comes.
    const untouched = await viteBuild(deployNotify({ version: 'v1' }))
    expect(untouched.html).not.toContain('client.js')
    expect(untouched.versionJson).toMatchObject({ version: 'v1', app: 'default' })
  })

  it('names the option when a value is wrong', async () => {
    expect(() => deployNotify({ app: 'my app' })).toThrow(
      /^deploy-notify: app: app "my app" must be 1-64 letters, digits/,
    )
    expect(() => deployNotify({ sidecar: 'sidecar.example' })).toThrow(
      /^deploy-notify: sidecar: sidecar "sidecar.example" must be/,
    )
    expect(() => deployNotify({ version: 1 as never })).toThrow(
      /^deploy-notify: version: expected a string or a function, got number/,
    )
    await expect(viteBuild(deployNotify({ version: 'v 1 ' }))).rejects.toThrow(
      /deploy-notify: version "v 1 ": version "v 1 " must be 1-128 printable ASCII/,
    )
    await expect(viteBuild(deployNotify({ version: 'git' }))).rejects.toThrow(
      /deploy-notify: version "git": no git commit in .*not a git repository/,
    )
    await rm(join(root, 'package.json'))
    await expect(viteBuild(deployNotify({ version: 'package' }))).rejects.toThrow(/deploy-notify: version "package": /)
  })
})

describe('deploy-notify/vite in the dev server', () => {
  it('serves index.html stamped and version.json', async () => {
    const server = await createServer({
      root,
      configFile: false,
      logLevel: 'silent',
      plugins: [deployNotify({ version: 'dev-1', app: 'web' })],
      server: { host: '127.0.0.1', port: 0, ws: false },
      optimizeDeps: { noDiscovery: true },
    })
    try {
      await server.listen()
      const { port } = server.httpServer!.address() as AddressInfo
      const page = await fetch(`http://127.0.0.1:${port}/`)
      expect(await page.text()).toMatch(
        /<script src="https:\/\/sidecar\.example\/client\.js" data-version="dev-1" data-app="web" data-build-time="[^"]+" defer><\/script>/,
      )
      const info = await fetch(`http://127.0.0.1:${port}/version.json`)
      expect(info.headers.get('cache-control')).toBe('no-store')
      expect(await info.json()).toMatchObject({ version: 'dev-1', app: 'web', packageVersion: '2.3.4' })
      const main = await (await fetch(`http://127.0.0.1:${port}/src/main.js`)).text()
      expect(main).toMatch(/import\.meta\.env = .*"DEPLOY_NOTIFY_VERSION": ?"dev-1"/s)
    } finally {
      await server.close()
    }
  })
})

describe('deploy-notify/vite types', () => {
  // Checked by tsc (npm run typecheck); at run time these only have to not throw.
  it('take typed options and give a Vite plugin', () => {
    expectTypeOf(deployNotify).returns.toEqualTypeOf<Plugin>()
    expectTypeOf(deployNotify).parameter(0).toEqualTypeOf<DeployNotifyOptions | undefined>()
    expectTypeOf<'git'>().toExtend<VersionSource>()
    expectTypeOf<() => Promise<string>>().toExtend<VersionSource>()
    expectTypeOf<number>().not.toExtend<VersionSource>()
    expectTypeOf<{ versoin: string }>().not.toExtend<DeployNotifyOptions>()
  })
})
