/**
 * `deploy-notify/webpack`: what `deploy-notify/vite` does, for webpack 5 and Rspack alike (their
 * plugin APIs are the same): stamps the build's version into the client's script tag of every
 * emitted HTML page (html-webpack-plugin, HtmlRspackPlugin), emits version.json, and gives the
 * app's code the version through DefinePlugin; records the build's files for `deploy-notify prune`.
 *
 *   import { DeployNotifyPlugin } from 'deploy-notify/webpack'
 *   export default { plugins: [new HtmlWebpackPlugin(), new DeployNotifyPlugin({ app: 'web' })] }
 */
import { DEFAULT_APP } from '../contract/deploy.js'
import { checkOptions, resolveBuild, tagOptions, type BuildStamp, type DeployNotifyOptions } from './plugin-options.js'
import { readStaticClient, STATIC_CLIENT_FOLDER } from './static-client.js'
import { recordVersion, stampHtml, versionJson } from './stamp.js'

export type { DeployNotifyOptions } from './plugin-options.js'
export type { VersionSource } from './version-source.js'

// The few parts of webpack's and Rspack's compiler this plugin uses, so that it needs the types
// of neither (an app has one of them, not both). Methods, so either compiler type fits.
interface Source {
  source(): string | Buffer
}
interface AsyncHook<T> {
  tapPromise(name: string, run: (value: T) => Promise<void>): void
}
interface Compilation {
  hooks: { processAssets: { tapPromise(options: { name: string; stage: number }, run: () => Promise<void>): void } }
  getAssets(): readonly { name: string; source: Source }[]
  outputOptions: { publicPath?: unknown }
  // The bundler's own Source class goes in: made by its `sources.RawSource`.
  updateAsset(name: string, source: never): void
  emitAsset(name: string, source: never, info?: { minimized?: boolean }): void
}
/** webpack's or Rspack's `Compiler`, as far as this plugin is concerned. */
export interface BundlerCompiler {
  context: string
  outputPath: string
  hooks: {
    beforeRun: AsyncHook<unknown>
    watchRun: AsyncHook<unknown>
    afterEmit: AsyncHook<Compilation>
    thisCompilation: { tap(name: string, run: (compilation: Compilation) => void): void }
  }
  webpack: {
    DefinePlugin: new (definitions: Record<string, string>) => { apply(compiler: never): void }
    Compilation: { PROCESS_ASSETS_STAGE_SUMMARIZE: number }
    sources: { RawSource: new (source: string) => unknown }
  }
}

const NAME = 'DeployNotifyPlugin'

export class DeployNotifyPlugin {
  readonly #options: DeployNotifyOptions

  constructor(options: DeployNotifyOptions = {}) {
    checkOptions(options)
    this.#options = options
  }

  apply(compiler: BundlerCompiler): void {
    const { version: source = 'git', app, sidecar } = this.#options
    const { DefinePlugin, Compilation, sources } = compiler.webpack
    const raw = (text: string) => new sources.RawSource(text) as never
    let build: BuildStamp | undefined
    // The version is found once, before the first compilation (git runs asynchronously);
    // DefinePlugin is applied then, before either bundler reads its plugins.
    const resolve = async () => {
      if (build) return
      build = await resolveBuild(source, compiler.context)
      const values = {
        VERSION: JSON.stringify(build.version),
        APP: JSON.stringify(app ?? DEFAULT_APP),
        BUILD_TIME: JSON.stringify(build.time),
      }
      new DefinePlugin({
        'process.env.DEPLOY_NOTIFY_VERSION': values.VERSION,
        'process.env.DEPLOY_NOTIFY_APP': values.APP,
        'process.env.DEPLOY_NOTIFY_BUILD_TIME': values.BUILD_TIME,
        // The names the Vite plugin gives, so code shared with a Vite build reads the same.
        'import.meta.env.DEPLOY_NOTIFY_VERSION': values.VERSION,
        'import.meta.env.DEPLOY_NOTIFY_APP': values.APP,
        'import.meta.env.DEPLOY_NOTIFY_BUILD_TIME': values.BUILD_TIME,
      }).apply(compiler as never)
    }
    let watching = false
    compiler.hooks.beforeRun.tapPromise(NAME, resolve)
    compiler.hooks.watchRun.tapPromise(NAME, async () => {
      watching = true
      await resolve()
    })
    let taggedApp: string | undefined
    const appName = () => app ?? taggedApp ?? DEFAULT_APP

    compiler.hooks.thisCompilation.tap(NAME, (compilation) => {
      // After the HTML plugins, which emit their pages while assets are optimized.
      compilation.hooks.processAssets.tapPromise(
        { name: NAME, stage: Compilation.PROCESS_ASSETS_STAGE_SUMMARIZE },
        async () => {
          const stamp = build!
          // No sidecar: the client at the output's public path (`/` when webpack works it out).
          const { publicPath } = compilation.outputOptions
          const base = typeof publicPath === 'string' && publicPath !== 'auto' ? publicPath : '/'
          const tag = { version: stamp.version, app, buildTime: stamp.time, ...tagOptions(sidecar, base) }
          for (const asset of compilation.getAssets()) {
            if (!asset.name.endsWith('.html')) continue
            const html = asset.source.source().toString()
            const stamped = stampHtml(html, { ...tag, ifMissing: 'skip' }, asset.name)
            if (stamped.tag === 'missing') continue
            taggedApp ??= stamped.app
            compilation.updateAsset(asset.name, raw(stamped.html))
          }
          const info = versionJson({ ...stamp, app: appName() })
          compilation.emitAsset('version.json', raw(info))
          if (sidecar === 'none')
            for (const { name, source } of await readStaticClient(compiler.context))
              // Already minified, and served as built: the bundler's minifier leaves them alone.
              compilation.emitAsset(`${STATIC_CLIENT_FOLDER}${name}`, raw(source), { minimized: true })
        },
      )
    })

    // Once the build is on disk, its files are recorded for `deploy-notify prune`, as the Vite
    // plugin does; not in watch mode (a dev server writes to memory, and deploys nothing).
    compiler.hooks.afterEmit.tapPromise(NAME, async (compilation) => {
      if (watching || !build) return
      const files = compilation.getAssets().map((asset) => asset.name)
      await recordVersion(compiler.outputPath, { version: build.version, app: appName(), time: build.time, files })
    })
  }
}

export default DeployNotifyPlugin
