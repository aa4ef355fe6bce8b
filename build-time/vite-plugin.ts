/**
 * `deploy-notify/vite`: stamps the build's version into index.html (the client's script tag)
 * and emits version.json, in `vite build` and in the dev server, so a deploy needs no separate
 * `deploy-notify stamp` step. After the build is written, it records the build's files in
 * `.deploy-notify/versions/<version>.json` for `deploy-notify prune`.
 *
 *   import deployNotify from 'deploy-notify/vite'
 *   export default defineConfig({ plugins: [deployNotify({ app: 'web' })] })
 */
import { resolve } from 'node:path'
import type { Plugin, ResolvedConfig } from 'vite'
import { DEFAULT_APP } from '../contract/deploy.js'
import { checkOptions, resolveBuild, type BuildStamp, type DeployNotifyOptions } from './plugin-options.js'
import { listBuildFiles } from './version-manifest.js'
import { recordVersion, stampHtml, versionJson } from './stamp.js'

export type { DeployNotifyOptions } from './plugin-options.js'
export type { VersionSource } from './version-source.js'

/** What the build's code sees: `import.meta.env.DEPLOY_NOTIFY_VERSION` and `import.meta.env.DEPLOY_NOTIFY_APP`. */
export interface DeployNotifyEnv {
  readonly DEPLOY_NOTIFY_VERSION: string
  readonly DEPLOY_NOTIFY_APP: string
}

export default function deployNotify(options: DeployNotifyOptions = {}): Plugin {
  checkOptions(options)
  const { version: source = 'git', app, sidecar } = options
  let build: BuildStamp = { version: '', time: '' }
  let config: ResolvedConfig
  /** The app the page follows, once index.html has been stamped (its tag may name it). */
  let taggedApp: string | undefined

  const info = (): string => versionJson({ ...build, app: app ?? taggedApp ?? DEFAULT_APP })
  /** The browser's build, not the server's of an SSR app. */
  const forBrowser = (context: unknown): boolean =>
    (context as { environment?: { config?: { consumer?: string } } }).environment?.config?.consumer !== 'server' &&
    !config.build.ssr

  return {
    name: 'deploy-notify',

    async config(userConfig) {
      const root = resolve(userConfig.root ?? process.cwd())
      build = await resolveBuild(source, root)
      // Vite merges `import.meta.env.*` defines into import.meta.env, in builds and in dev.
      return {
        define: {
          'import.meta.env.DEPLOY_NOTIFY_VERSION': JSON.stringify(build.version),
          'import.meta.env.DEPLOY_NOTIFY_APP': JSON.stringify(app ?? DEFAULT_APP),
        },
      }
    },

    configResolved(resolved) {
      config = resolved
    },

    transformIndexHtml: {
      // After Vite has written its own tags, so the file is final but for this one tag.
      order: 'post',
      handler(html, context) {
        const stamped = stampHtml(html, { version: build.version, app, sidecar, ifMissing: 'skip' }, context.filename)
        if (stamped.tag !== 'missing') taggedApp ??= stamped.app
        return stamped.html
      },
    },

    generateBundle: {
      // After Vite's HTML plugin, which stamps index.html in this same hook.
      order: 'post',
      handler() {
        if (forBrowser(this)) this.emitFile({ type: 'asset', fileName: 'version.json', source: info() })
      },
    },

    writeBundle: {
      // Once every file is on disk as served: the bundle's (index.html and version.json included)
      // and the public folder's, which Vite copied before. Only this build's files are listed,
      // so a build into a folder that keeps older files does not claim them.
      order: 'post',
      async handler(output, bundle) {
        if (!forBrowser(this)) return
        const outDir = output.dir ?? resolve(config.root, config.build.outDir)
        const publicFiles =
          config.build.copyPublicDir && config.publicDir ? await listBuildFiles(config.publicDir).catch(() => []) : []
        await recordVersion(outDir, {
          version: build.version,
          app: app ?? taggedApp ?? DEFAULT_APP,
          time: build.time,
          files: [...Object.keys(bundle), ...publicFiles],
        })
      },
    },

    configureServer(server) {
      const path = `${config.base.replace(/\/?$/, '/')}version.json`
      server.middlewares.use((request, response, next) => {
        if (request.url?.split('?')[0] !== path) return next()
        response.setHeader('content-type', 'application/json')
        response.setHeader('cache-control', 'no-store')
        response.end(info())
      })
    },
  }
}

export { deployNotify }
