/**
 * `deploy-notify/vite`: stamps the build's version into index.html (the client's script tag)
 * and emits version.json, in `vite build` and in the dev server, so a deploy needs no separate
 * `deploy-notify stamp` step.
 *
 *   import deployNotify from 'deploy-notify/vite'
 *   export default defineConfig({ plugins: [deployNotify({ app: 'web' })] })
 */
import { resolve } from 'node:path'
import type { Plugin, ResolvedConfig } from 'vite'
import { DEFAULT_APP } from '../contract/deploy.js'
import { checkOptions, resolveBuild, type BuildStamp, type DeployNotifyOptions } from './plugin-options.js'
import { stampHtml, versionJson } from './stamp.js'

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
        const consumer = (this as { environment?: { config?: { consumer?: string } } }).environment?.config?.consumer
        if (consumer === 'server' || config.build.ssr) return
        this.emitFile({ type: 'asset', fileName: 'version.json', source: info() })
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
