import type { ApplyOptions, ApplyPolicy } from './apply.js'
import type { ApplyTexts } from './apply-texts.js'
import { onBrokenBundle } from './broken.js'
import type { Deploy, Position, Texts, Update } from './deploy.js'
import type { UI } from './ui.js'
import { defaultVersionUrl, servedVersion } from './origin.js'
import { onReturn } from './returns.js'
import { fetchVersion, openStream } from './stream.js'
import { shareAcrossTabs } from './tabs.js'

export interface NotifierOptions extends ApplyOptions {
  /** The version this page runs, stamped in at build time. */
  version: string
  /** The sidecar's base URL, path prefix included (`https://example.com/dn`). */
  url: string
  /** Which app's channel to follow. Default `default`. */
  app?: string
  /**
   * The app's `version.json`, which says what the origin serves now. Default: `version.json`
   * beside the document's `<base href>`, else `/version.json`.
   */
  versionUrl?: string
  /** Milliseconds between `/version` checks while the stream cannot be held. Default 60000. */
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

export interface Notifier {
  /** Follows the app: stream (one per browser), checks on return and on broken chunks. */
  start(): void
  stop(): void
  /** Asks the sidecar and the origin; true when the page is out of date and a reload brings the new version. */
  check: () => Promise<boolean>
  /** Reloads into the new version, through a waiting service worker when there is one. */
  reload(): Promise<void>
  /** Later: hides the banner and never prompts for this version again. */
  dismiss(): void
  /** The update the page was told of and has not reloaded for, if any. */
  readonly update: Update | undefined
  /**
   * For router integrations, before a route change to `href`: when an update waits to be applied
   * (`apply: 'auto'`, or a mandatory deploy) and no work would be lost, loads `href` in full at the
   * new version and returns true (cancel the route change); otherwise false.
   */
  navigate(href: string): boolean
}

/** Re-checks of the origin while a CDN catches up: 1 s doubling to a minute, about 5 minutes in all. */
const ORIGIN_RETRIES = 9

/** Reading or writing storage throws where the browser denies it; then there is no memory. */
const storage = (area: () => Storage, key: string, value?: string): string | null => {
  try {
    if (value === undefined) return area().getItem(key)
    area().setItem(key, value)
  } catch {
    // no memory then
  }
  return null
}
const local = () => localStorage
const session = () => sessionStorage

/**
 * The client's core. `loadUI` brings the banner and the service-worker hand-over when they are
 * needed; `named` is how the page set the version, for the error when it is missing.
 */
export function createNotifier(
  options: NotifierOptions,
  loadUI: () => Promise<UI>,
  named = 'the option version',
): Notifier {
  const { version: running, app = 'default', pollInterval = 60_000 } = options
  const base = `${options.url.replace(/\/+$/, '')}/`
  const query = `?app=${encodeURIComponent(app)}`
  const sidecarVersionUrl = `${base}version${query}`
  // Per app, so several notifiers on one page (micro-frontends) keep apart.
  const key = `deploy-notify:${app}`
  // Bad configuration is loud and harmless: one error, no stream, no banner.
  const misconfigured = !running || running === 'undefined'
  const prompted = new Set<string>()
  let update: Update | undefined
  // The reload's record for the page it lands on: shows the note there when that runs this version.
  const noteKey = `${key}:note`
  let policy: ApplyPolicy | undefined
  let workerUpdate: Promise<unknown> | undefined
  let hide = () => {}
  let running$ = new AbortController()
  let rounds = 0
  let retry: ReturnType<typeof setTimeout> | undefined
  const said = new Set<string>()
  const sayOnce = (what: string) => said.has(what) || (said.add(what), console.warn(`deploy-notify: ${what}`))

  const withdraw = () => {
    if (update) prompted.delete(update.version)
    update = undefined
    hide()
  }

  // A failure is the browser's to report (the URL that failed); Reload still reloads.
  const ui = () => loadUI().catch(() => undefined)

  /** Records the update being loaded: never prompt for it again in this tab, and note it after the load. */
  const remember = ({ version, deploy }: Update) => {
    storage(session, key, version)
    if (deploy) storage(session, noteKey, JSON.stringify(deploy))
  }

  const policyOf = (parts: UI) =>
    (policy ??= parts.startApply({
      version: running,
      options,
      apply(next, href) {
        remember(next)
        if (href) location.assign(href)
        else void parts.reloadPage(workerUpdate)
      },
    }))

  const prompt = (next: Update) => {
    const { version } = next
    // Once per version in this tab, even across the reload that did not bring it (a stale
    // cache): never twice, so never a loop; and never for a version dismissed with Later. The
    // one exception: the deploy's own announcement (its message) of the version a broken
    // bundle already prompted for.
    const announces = next.deploy && update?.version === version && !update.deploy
    if ((prompted.has(version) && !announces) || storage(local, key) === version || storage(session, key) === version)
      return
    prompted.add(version)
    update = next
    options.onUpdate?.(next)
    void ui().then((parts) => {
      workerUpdate = parts?.updateWorker()
      if (!parts || update !== next) return
      hide()
      // The apply policy takes what needs it: `auto`, a mandatory countdown, a notes link.
      const { mandatory, notesUrl } = next.deploy ?? {}
      if (options.apply === 'auto' || mandatory || notesUrl) hide = policyOf(parts).update(next)
      else if (options.ui !== 'none') hide = parts.showBanner(next, options)
    })
  }

  /**
   * Decides what `deploy` (the sidecar's current one, if known) means for this page. A banner
   * only once the origin serves another version, which Reload brings: the announced one, or,
   * when the bundle broke, any. The origin serving the running version means a CDN still
   * catching up (checked again, with backoff) or, for a version the sidecar never deployed, a
   * page loaded in the deploy window: current.
   */
  const decide = async (deploy: Deploy | undefined, broken: boolean, attempt = 0): Promise<boolean> => {
    const round = ++rounds
    clearTimeout(retry)
    if (!broken && (!deploy || deploy.version === running)) {
      if (deploy) {
        withdraw()
        options.onCurrent?.(deploy)
      }
      return false
    }
    // Found here, not at creation, so a notifier created during server-side rendering touches no `document`.
    const versionJsonUrl = options.versionUrl ?? defaultVersionUrl()
    const served = await servedVersion(versionJsonUrl)
    if (round !== rounds) return false
    if (served === undefined) sayOnce(`no version in ${versionJsonUrl}`)
    else if (served === running) {
      withdraw()
      if (broken) return !sayOnce(`a file failed to load; the origin still serves ${running}`)
      if (deploy?.unknownVersion) return false
    } else if (broken || served === deploy?.version) {
      const announced = served === deploy?.version ? deploy : undefined
      prompt({ deploy: announced, reason: broken ? 'broken' : 'deploy', version: served, reload, check, dismiss })
      return true
    }
    if (attempt < ORIGIN_RETRIES)
      retry = setTimeout(() => void decide(deploy, broken, attempt + 1), Math.min(60_000, 1000 * 2 ** attempt))
    return false
  }

  /** Parses event or `/version` data; undefined (and one warning) when it is not a deploy. */
  const parse = (data: string | undefined): Deploy | undefined => {
    let deploy: Deploy | undefined
    try {
      deploy = data ? (JSON.parse(data) as Deploy) : undefined
    } catch {
      // handled below, as data of the wrong shape
    }
    if (data && typeof deploy?.version !== 'string') sayOnce(`ignored malformed data ${data}`)
    else return deploy
  }

  async function check(broken?: boolean): Promise<boolean> {
    return !misconfigured && decide(parse(await fetchVersion(sidecarVersionUrl)), !!broken)
  }

  async function reload(): Promise<void> {
    if ((await options.beforeReload?.()) === false) return
    if (update) remember(update)
    const parts = await ui()
    await (parts ? parts.reloadPage(workerUpdate) : location.reload())
  }

  function dismiss(): void {
    hide()
    if (update) storage(local, key, update.version)
  }

  return {
    start() {
      running$.abort()
      if (misconfigured)
        return console.error(
          `deploy-notify: ${named} is ${JSON.stringify(running) ?? 'missing'}; not following deploys`,
        )
      const signal = (running$ = new AbortController()).signal
      signal.addEventListener('abort', () => (clearTimeout(retry), hide()))
      const eventsUrl = `${base}events${query}&version=${encodeURIComponent(running)}`
      // The stream says how many pages of the app this browser has open, by version.
      const lead = (send: (data: string) => void, pages: string, connection: AbortSignal) =>
        openStream(eventsUrl + pages, sidecarVersionUrl, pollInterval, send, connection)
      shareAcrossTabs(key, running, lead, (data) => void decide(parse(data), false), signal)
      onBrokenBundle(() => void check(true), signal)
      onReturn(() => void check(), signal)
      // Later in another tab of the app hides this tab's banner too.
      addEventListener('storage', (event) => event.key === key && event.newValue === update?.version && hide(), {
        signal,
      })
      const note = storage(session, noteKey)
      if (note) storage(session, noteKey, '')
      // With `auto`, the policy starts now: unsaved work counts from the page's load on.
      if (note || options.apply === 'auto')
        void ui().then((parts) => {
          const started = parts && policyOf(parts)
          if (note) started?.note(note)
        })
    },
    stop: () => running$.abort(),
    check: () => check(),
    reload,
    dismiss,
    get update() {
      return update
    },
    navigate: (href) => !!policy?.navigate(href),
  }
}
