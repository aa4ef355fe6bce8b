import type { ApplyOptions } from '../on-demand/apply.js'
import type { ApplyTexts } from '../on-demand/apply-texts.js'
import type { Deploy, Position, Texts, Update } from './deploy.js'

/** The notifier's options: the module's `createNotifier`, and the script tag's `data-*` attributes by the same names. */
export interface NotifierOptions extends ApplyOptions {
  /** The version this page runs, stamped in at build time. */
  version: string
  /**
   * The sidecar's base URL, path prefix included (`https://example.com/dn`). Leave it out (or
   * `none`) for no sidecar: the page follows the app's `version.json` alone.
   */
  url?: string
  /**
   * When this page's build was made (ISO-8601, the `time` its version.json says; the build
   * plugins define `import.meta.env.DEPLOY_NOTIFY_BUILD_TIME`): a version.json of an older
   * build (a lagging CDN edge) is never offered. Without it, the page learns it from
   * version.json once that names the running version.
   */
  buildTime?: string
  /** Which app's channel to follow. Default `default`. */
  app?: string
  /**
   * The app's `version.json`, which says what the origin serves now. Default: `version.json`
   * beside the document's `<base href>`, else `/version.json`.
   */
  versionUrl?: string
  /**
   * Milliseconds between checks: of version.json with no sidecar (minutes are plenty), else of
   * `/version` while the stream cannot be held. Default 60000.
   */
  pollInterval?: number
  /** `banner` draws the built-in banner; `none` leaves the prompt to `onUpdate`. Default `banner`. */
  ui?: 'banner' | 'none'
  /** Where the banner sits. Default `bottom`. */
  position?: Position
  /** Replaces the banner's words (defaults follow `<html lang>`: English, Chinese, Russian). */
  texts?: Partial<Texts & ApplyTexts>
  /** The origin serves a version other than the running one (a deploy, or the bundle broke); once per version. */
  onUpdate?: (update: Update) => void
  /** A check or the stream found the page up to date; a banner shown before is withdrawn. */
  onCurrent?: (deploy: Deploy) => void
  /** Called before reloading; return false to stay (an unsaved form, say). */
  beforeReload?: () => boolean | Promise<boolean>
}
