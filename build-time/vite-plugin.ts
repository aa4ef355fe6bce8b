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
import { checkOptions, resolveBuild, tagOptions, type BuildStamp, type DeployNotifyOptions } from './plugin-options.js'
import { readStaticClient, STATIC_CLIENT_FOLDER } from './static-client.js'
import { listBuildFiles } from './version-manifest.js'
import { recordVersion, stampHtml, versionJson } from './stamp.js'

export type { DeployNotifyOptions } from './plugin-options.js'
export type { VersionSource } from './version-source.js'

/**
 * What the build's code sees: `import.meta.env.DEPLOY_NOTIFY_VERSION`, `DEPLOY_NOTIFY_APP` and
 * `DEPLOY_NOTIFY_BUILD_TIME` (version.json's `time`: the module's `buildTime` option).
 */
export interface DeployNotifyEnv {
  readonly DEPLOY_NOTIFY_VERSION: string
  readonly DEPLOY_NOTIFY_APP: string
  readonly DEPLOY_NOTIFY_BUILD_TIME?: string
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
          'import.meta.env.DEPLOY_NOTIFY_BUILD_TIME': JSON.stringify(build.time),
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
        const tag = { version: build.version, app, buildTime: build.time, ...tagOptions(sidecar, config.base) }
        const stamped = stampHtml(html, { ...tag, ifMissing: 'skip' }, context.filename)
        if (stamped.tag !== 'missing') taggedApp ??= stamped.app
        return stamped.html
      },
    },

    generateBundle: {
      // After Vite's HTML plugin, which stamps index.html in this same hook.
      order: 'post',
      async handler() {
        if (!forBrowser(this)) return
        this.emitFile({ type: 'asset', fileName: 'version.json', source: info() })
        // No sidecar: the client's files, beside each other, where the tag loads them from.
        if (sidecar === 'none')
          for (const { name, source } of await readStaticClient(config.root))
            this.emitFile({ type: 'asset', fileName: `${STATIC_CLIENT_FOLDER}${name}`, source })
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
      const base = config.base.replace(/\/?$/, '/')
      server.middlewares.use((request, response, next) => {
        const path = request.url?.split('?')[0]
        if (path === `${base}version.json`) {
          response.setHeader('content-type', 'application/json')
          response.setHeader('cache-control', 'no-store')
          return response.end(info())
        }
        // No sidecar: the client's files, as the build emits them.
        const name =
          sidecar === 'none' &&
          path?.startsWith(`${base}${STATIC_CLIENT_FOLDER}`) &&
          path.slice(base.length + STATIC_CLIENT_FOLDER.length)
        if (!name) return next()
        readStaticClient(config.root).then((files) => {
          const file = files.find((f) => f.name === name)
          if (!file) return next()
          response.setHeader('content-type', 'text/javascript; charset=utf-8')
          response.end(file.source)
        }, next)
      })
    },
  }
}

export { deployNotify }
