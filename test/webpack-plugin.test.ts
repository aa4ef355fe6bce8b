import { rspack, type Configuration as RspackConfiguration } from '@rspack/core'
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { cp, mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import HtmlWebpackPlugin from 'html-webpack-plugin'
import webpack, { type Configuration as WebpackConfiguration } from 'webpack'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DeployNotifyPlugin, type DeployNotifyOptions } from '../build-time/webpack-plugin.js'
import { banner, CHROMIUM, reloadButton, runningVersion, useBrowser } from './helpers/browser.js'
import { useDeployedApp } from './helpers/deployed-app.js'
import { findNginx } from './helpers/nginx.js'

// test/fixtures/webpack-app: an index.html with the client's script tag and a script that shows
// the version it was built with, bundled by webpack (html-webpack-plugin) and by Rspack
// (its built-in HtmlRspackPlugin) with the same plugin.
const FIXTURE = fileURLToPath(new URL('./fixtures/webpack-app/', import.meta.url))

type Bundler = 'webpack' | 'rspack'

interface Output {
  html: string
  versionJson: Record<string, unknown>
  js: string
}

/** One production build of the app at `root` into `outDir`, as the bundler's Node API runs it. */
async function bundle(bundler: Bundler, root: string, outDir: string, options: DeployNotifyOptions): Promise<Output> {
  const config = {
    mode: 'production' as const,
    context: root,
    entry: './src/main.js',
    output: { path: outDir, filename: '[name].[contenthash].js', publicPath: '/', clean: true },
  }
  const plugin = new DeployNotifyPlugin(options)
  await new Promise<void>((resolve, reject) => {
    const done = (error: Error | null, stats?: { hasErrors(): boolean; toString(preset: 'errors-only'): string }) => {
      if (error) reject(error)
      else if (stats?.hasErrors()) reject(new Error(stats.toString('errors-only')))
      else resolve()
    }
    if (bundler === 'webpack') {
      const webpackConfig: WebpackConfiguration = {
        ...config,
        plugins: [new HtmlWebpackPlugin({ template: './index.html' }), plugin],
      }
      webpack(webpackConfig, (error, stats) => done(error, stats))
    } else {
      const rspackConfig: RspackConfiguration = {
        ...config,
        plugins: [new rspack.HtmlRspackPlugin({ template: './index.html' }), plugin],
      }
      rspack(rspackConfig, (error, stats) => done(error, stats))
    }
  })
  const scripts = (await readdir(outDir)).filter((name) => name.endsWith('.js'))
  return {
    html: await readFile(join(outDir, 'index.html'), 'utf8'),
    versionJson: JSON.parse(await readFile(join(outDir, 'version.json'), 'utf8')) as Record<string, unknown>,
    js: (await Promise.all(scripts.map((name) => readFile(join(outDir, name), 'utf8')))).join('\n'),
  }
}

describe('deploy-notify/webpack', () => {
  let scratch: string
  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'deploy-notify-webpack-'))
  })
  afterAll(async () => {
    await rm(scratch, { recursive: true, force: true })
  })

  it.each(['webpack', 'rspack'] as const)(
    '%s: the version goes into the client tag, version.json and the code',
    async (bundler) => {
      const out = await bundle(bundler, FIXTURE, join(scratch, bundler), { version: 'v7', app: 'shop' })
      expect(out.html).toMatch(
        /<script src="?\/deploy-notify\/client\.js"? data-version="v7" data-app="shop" data-build-time="?[^" ]+"? defer><\/script>/,
      )
      expect(out.versionJson).toEqual({ version: 'v7', app: 'shop', time: expect.any(String), packageVersion: '0.1.0' })
      // process.env.* and import.meta.env.* were replaced by the values.
      expect(out.js).toContain('textContent="v7"')
      expect(out.js).toContain('textContent="shop"')
      expect(out.js).not.toContain('DEPLOY_NOTIFY_')
      // What deploy-notify prune reads: every file of this build, stamped ones as written.
      const manifest = JSON.parse(
        await readFile(join(scratch, bundler, '.deploy-notify', 'versions', 'v7.json'), 'utf8'),
      ) as { version: string; app: string; files: Record<string, unknown> }
      expect(manifest).toMatchObject({ version: 'v7', app: 'shop' })
      expect(Object.keys(manifest.files).sort()).toEqual(
        (await readdir(join(scratch, bundler))).filter((name) => name !== '.deploy-notify').sort(),
      )
    },
    60_000,
  )

  it.each(['webpack', 'rspack'] as const)(
    "%s with sidecar: 'none': the client's two files in the build, and the tag loads them",
    async (bundler) => {
      const outDir = join(scratch, `${bundler}-none`)
      const out = await bundle(bundler, FIXTURE, outDir, { version: 'v8', sidecar: 'none' })
      expect(out.html).toMatch(
        /<script src="?\/deploy-notify-client\/client\.js"? data-version="v8" data-build-time="?[^" ]+"? data-url="?none"? defer><\/script>/,
      )
      expect(out.js).not.toContain('DEPLOY_NOTIFY_')
      for (const name of ['client.js', 'client-ui.js'])
        expect(await readFile(join(outDir, 'deploy-notify-client', name), 'utf8')).toBe(
          await readFile(new URL(`../dist/client/${name}`, import.meta.url), 'utf8'),
        )
    },
    60_000,
  )

  it('takes the git commit by default; without .git, DEPLOY_NOTIFY_VERSION; else a clear error', async () => {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: FIXTURE, encoding: 'utf8' }).trim()
    expect((await bundle('rspack', FIXTURE, join(scratch, 'git'), {})).versionJson.version).toBe(commit)

    // A Docker build context: the app's files without .git.
    const context = join(scratch, 'docker-context')
    await cp(FIXTURE, context, { recursive: true })
    await expect(bundle('rspack', context, join(scratch, 'no-git'), {})).rejects.toThrow(
      /deploy-notify: version "git": no git commit in .*not a git repository.*set DEPLOY_NOTIFY_VERSION/,
    )
    process.env.DEPLOY_NOTIFY_VERSION = 'from-build-arg'
    try {
      const out = await bundle('rspack', context, join(scratch, 'build-arg'), {})
      expect(out.versionJson.version).toBe('from-build-arg')
      expect(out.html).toContain('data-version="from-build-arg"')
    } finally {
      delete process.env.DEPLOY_NOTIFY_VERSION
    }
  })

  it('refuses bad options when it is created, naming the option', () => {
    expect(() => new DeployNotifyPlugin({ app: 'my app' })).toThrow(/^deploy-notify: app: app "my app" /)
    expect(() => new DeployNotifyPlugin({ sidecar: 'ftp://x' })).toThrow(/^deploy-notify: sidecar: /)
  })
})

const nginxBinary = findNginx()
const missing = [...(nginxBinary ? [] : ['nginx']), ...(existsSync(CHROMIUM) ? [] : [`chromium (${CHROMIUM})`])]
if (missing.length > 0 && !process.env.CI)
  console.warn(`\n!!! ${missing.join(' and ')} not found: SKIPPING the Rspack app in Chromium (CI fails instead) !!!\n`)

describe.skipIf(missing.length > 0 && !process.env.CI)('an Rspack app in Chromium, from build to reload', () => {
  const browser = useBrowser()
  const deployed = useDeployedApp(nginxBinary!, {
    root: FIXTURE,
    app: 'rspack-shop',
    builds: { v1: { APP_VERSION: 'v1' }, v2: { APP_VERSION: 'v2' } },
    bundle: async (root, outDir, env) => {
      await bundle('rspack', root, outDir, { version: env.APP_VERSION, app: 'rspack-shop' })
    },
  })

  it('the stamped page follows its app: the banner on a deploy, Reload brings v2', async () => {
    const app = deployed()
    await app.deploy('v1')
    await app.notify('v1')
    const page = await browser.newPage()
    const streaming = page.waitForResponse((response) => response.url().includes('/deploy-notify/events'))
    await page.goto(`${app.url}/`)
    expect((await streaming).status()).toBe(200)
    expect(await runningVersion(page)).toBe('v1')
    expect(await page.getByTestId('version').textContent()).toBe('v1')

    await app.deploy('v2')
    await app.notify('v2', 'Built with Rspack')
    await banner(page).getByText('Built with Rspack').waitFor()
    await Promise.all([page.waitForEvent('load'), reloadButton(page).click()])
    expect(await page.getByTestId('version').textContent()).toBe('v2')
    expect(await page.getByTestId('app').textContent()).toBe('rspack-shop')
    expect(await banner(page).count()).toBe(0)
  })
})
