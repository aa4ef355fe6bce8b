/**
 * What the bundler plugins (`deploy-notify/vite`, `deploy-notify/webpack`) share: their options,
 * checked the same way at registration, and the build's version, resolved the same way.
 */
import { checkApp, checkVersion, clientUrl } from './stamp.js'
import { STATIC_CLIENT_FOLDER } from './static-client.js'
import { nearestPackage, resolveVersion, type VersionSource } from './version-source.js'

export interface DeployNotifyOptions {
  /**
   * Default `'git'` (the commit; without a repository, the `DEPLOY_NOTIFY_VERSION` variable).
   * Use the same value CI passes to `deploy-notify notify --version`.
   */
  version?: VersionSource
  /** Sets the tag's `data-app` (default: the tag's own, else `default`). */
  app?: string
  /**
   * The sidecar's base URL, path prefix included (`https://sidecar.example`), or a path on the
   * app's origin (`/deploy-notify`): sets the tag's `src`, and inserts the tag before `</head>`
   * when index.html has none. `none`: no sidecar; the build gets the client's files in
   * `deploy-notify-client/` and the tag loads them with `data-url="none"` (the page follows
   * version.json). Without it, an index.html with no tag is left as it is (the module API,
   * `deploy-notify/client`, needs none).
   */
  sidecar?: string
}

/** Errors name the option, as the bundlers print them with the plugin's name. */
export const optionError = (option: string, error: unknown): Error =>
  new Error(`deploy-notify: ${option}: ${(error as Error).message}`, { cause: error })

function checkOption(option: string, check: () => unknown): void {
  try {
    check()
  } catch (error) {
    throw optionError(option, error)
  }
}

/** Checks the options when the plugin is created, so a typo fails before anything is built. */
export function checkOptions({ version = 'git', app, sidecar }: DeployNotifyOptions): void {
  if (typeof version !== 'string' && typeof version !== 'function')
    throw optionError('version', new Error(`expected a string or a function, got ${typeof version}`))
  checkOption('app', () => app === undefined || checkApp(app, 'app'))
  checkOption('sidecar', () => sidecar === undefined || sidecar === 'none' || clientUrl(sidecar, 'sidecar'))
}

/** What one build stamps: its version, when it was built, and the app's package version. */
export interface BuildStamp {
  version: string
  time: string
  packageVersion?: string
}

/** How the plugins stamp the tag for `sidecar`: with no sidecar, the client from `base` + `deploy-notify-client/`. */
export const tagOptions = (sidecar: string | undefined, base: string): { sidecar?: string; noSidecar?: string } =>
  sidecar === 'none' ? { noSidecar: `${base}${STATIC_CLIENT_FOLDER}client.js` } : { sidecar }

/** Resolves the build's version from `source`, for the app at `root`; errors name the option. */
export async function resolveBuild(source: VersionSource, root: string): Promise<BuildStamp> {
  let version: string
  try {
    version = checkVersion(await resolveVersion(source, root), 'version')
  } catch (error) {
    throw optionError(`version ${typeof source === 'string' ? `"${source}"` : '(function)'}`, error)
  }
  const packageVersion = (await nearestPackage(root))?.version
  return { version, time: new Date().toISOString(), ...(packageVersion === undefined ? {} : { packageVersion }) }
}
