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
import { gitCommit, nearestPackage } from './version-source.js'
import { DEFAULT_APP } from '../contract/deploy.js'
import { listBuildFiles } from './version-manifest.js'
import { checkApp, checkVersion, clientUrl, recordVersion, stampHtml, versionJson } from './stamp.js'

/**
 * Where the version comes from: `'git'` (the commit, `git rev-parse --short HEAD`),
 * `'package'` (package.json's version), `'timestamp'` (the build's start, ISO-8601), a
 * function, or any other string as the version itself.
 */
export type VersionSource = 'git' | 'package' | 'timestamp' | (string & {}) | (() => string | Promise<string>)

export interface DeployNotifyOptions {
  /** Default `'git'`. Use the same value CI passes to `deploy-notify notify --version`. */
  version?: VersionSource
  /** Sets the tag's `data-app` (default: the tag's own, else `default`). */
  app?: string
  /**
   * The sidecar's base URL, path prefix included (`https://sidecar.example`), or a path on the
   * app's origin (`/deploy-notify`): sets the tag's `src`, and inserts the tag before `</head>`
   * when index.html has none. Without it, an index.html with no tag is left as it is (the
   * module API, `deploy-notify/client`, needs none).
   */
  sidecar?: string
}

/** What the build's code sees: `import.meta.env.DEPLOY_NOTIFY_VERSION` and `import.meta.env.DEPLOY_NOTIFY_APP`. */
export interface DeployNotifyEnv {
  readonly DEPLOY_NOTIFY_VERSION: string
  readonly DEPLOY_NOTIFY_APP: string
}

const SOURCES = ['git', 'package', 'timestamp']

/** Errors name the option, as Vite prints them with the plugin's name. */
const optionError = (option: string, error: unknown): Error =>
  new Error(`deploy-notify: ${option}: ${(error as Error).message}`, { cause: error })

function checkOption(option: string, check: () => unknown): void {
  try {
    check()
  } catch (error) {
    throw optionError(option, error)
  }
}

async function resolveVersion(source: VersionSource, root: string): Promise<string> {
  if (typeof source === 'function') return source()
  if (!SOURCES.includes(source)) return source
  if (source === 'timestamp') return new Date().toISOString()
  if (source === 'git') return gitCommit(root)
  const found = await nearestPackage(root)
  if (found?.version === undefined)
    throw new Error(found ? `${found.path} has no "version"` : `no package.json at or above ${root}`)
  return found.version
}

export default function deployNotify(options: DeployNotifyOptions = {}): Plugin {
  // Checked at registration, so a typo fails before anything is built.
  const { version: source = 'git', app, sidecar } = options
  if (typeof source !== 'string' && typeof source !== 'function')
    throw optionError('version', new Error(`expected a string or a function, got ${typeof source}`))
  checkOption('app', () => app === undefined || checkApp(app, 'app'))
  checkOption('sidecar', () => sidecar === undefined || clientUrl(sidecar, 'sidecar'))

  let version = ''
  let packageVersion: string | undefined
  let time = ''
  let config: ResolvedConfig
  /** The app the page follows, once index.html has been stamped (its tag may name it). */
  let taggedApp: string | undefined

  const info = (): string => versionJson({ version, app: app ?? taggedApp ?? DEFAULT_APP, time, packageVersion })
  /** The browser's build, not the server's of an SSR app. */
  const forBrowser = (context: unknown): boolean =>
    (context as { environment?: { config?: { consumer?: string } } }).environment?.config?.consumer !== 'server' &&
    !config.build.ssr

  return {
    name: 'deploy-notify',

    async config(userConfig) {
      const root = resolve(userConfig.root ?? process.cwd())
      try {
        version = checkVersion(await resolveVersion(source, root), 'version')
      } catch (error) {
        throw optionError(`version ${typeof source === 'string' ? `"${source}"` : '(function)'}`, error)
      }
      packageVersion = (await nearestPackage(root))?.version
      time = new Date().toISOString()
      // Vite merges `import.meta.env.*` defines into import.meta.env, in builds and in dev.
      return {
        define: {
          'import.meta.env.DEPLOY_NOTIFY_VERSION': JSON.stringify(version),
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
        const stamped = stampHtml(html, { version, app, sidecar, ifMissing: 'skip' }, context.filename)
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
          version,
          app: app ?? taggedApp ?? DEFAULT_APP,
          time,
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
