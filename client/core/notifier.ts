import { onBrokenBundle } from './broken.js'
import type { Deploy, Update } from './deploy.js'
import { memoryKey, noteKey, session, storage } from './memory.js'
import type { NotifierOptions } from './options.js'
import type { UI } from '../on-demand/ui.js'
import type { Updates } from '../on-demand/updates.js'
import { defaultVersionUrl } from './origin.js'
import { onReturn } from './returns.js'
import { fetchVersion, openStream } from './stream.js'
import { shareAcrossTabs } from './tabs.js'

export interface Notifier {
  /** Follows the app: the stream or the version.json poll (one per browser), checks on return and on broken chunks. */
  start(): void
  stop(): void
  /** Asks the sidecar (else version.json) and the origin; true when the page is out of date and a reload brings the new version. */
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

/**
 * The client's core, which every page loads: it follows the app (the stream shared by the tabs,
 * or with no sidecar the app's `version.json`, polled by one tab; checks on return and on broken
 * chunks) and tells current from not. Anything else loads with `loadUI` once another version
 * may be live (client/on-demand/updates.ts). `named` is how the page set the version, for the
 * error when it is missing. Bad options never throw: one console error, and no sidecar where
 * the `url` is not a string.
 */
export function createNotifier(
  options: NotifierOptions,
  loadUI: () => Promise<UI>,
  named = 'the option version',
): Notifier {
  const { version: running, app = 'default', url, pollInterval } = (options ??= {} as NotifierOptions)
  const pollMs = +pollInterval! > 0 ? +pollInterval! : 60_000
  // `none` or no url: no sidecar, the app's version.json alone.
  const sidecar = typeof url === 'string' && url !== 'none' && `${url.replace(/\/+$/, '')}/`
  const query = `?app=${encodeURIComponent(app)}`
  const sidecarVersionUrl = `${sidecar}version${query}`
  const key = memoryKey(app)
  // Bad configuration is loud and harmless: one error, no stream, no banner.
  const misconfigured = !running || running === 'undefined'
  /** When this page's build was made; else learned from version.json once it names this version. */
  let built = options.buildTime
  let running$ = new AbortController()
  /** The on-demand part: loading, and once loaded; a load that failed is tried again next time. */
  let loading: Promise<Updates | undefined> | undefined
  let updates: Updates | undefined
  const said = new Set<string>()
  const sayOnce = (what: string) => {
    if (!said.has(what)) console.warn(`deploy-notify: ${what}`)
    said.add(what)
  }
  /**
   * Whether version.json's build is not older than this page's (a lagging CDN edge says
   * nothing); both times are ISO-8601 in UTC, as the stamp writes them, so they compare as text.
   */
  const newer = (info: Deploy) => !(info.time < built!)

  // A failure is the browser's to report (the URL that failed); nothing is shown then.
  const load = () =>
    (loading ??= loadUI().then(
      (parts) => (updates = parts.createUpdates({ options, newer, check, sayOnce })),
      () => (loading = undefined),
    ))

  /**
   * What `deploy` (the sidecar's current one, or what version.json says, if known) means for
   * this page, or that its bundle broke. The on-demand part gets the news in the order it came,
   * also while it loads (the callbacks of one promise run in order), and decides what a later
   * word replaces.
   */
  const consider = async (deploy: Deploy | undefined, broken: boolean): Promise<boolean> => {
    if (broken || (deploy && deploy.version !== running)) return (await load())?.decide(deploy, broken) ?? false
    if (deploy) {
      void loading?.then((loaded) => loaded?.withdraw())
      options.onCurrent?.(deploy)
    }
    return false
  }

  /** Event, `/version` or version.json data; undefined when it is not a deploy. */
  const parse = (data: string | undefined): Deploy | undefined => {
    try {
      const deploy = JSON.parse(data!) as Deploy | undefined
      if (typeof deploy?.version === 'string') return deploy
    } catch {
      // not a deploy
    }
  }

  /** The sidecar's current deploy; when it names none (down, 404, not a sidecar), what version.json says. */
  const ask = async (): Promise<Deploy | undefined> => {
    if (sidecar) {
      const deploy = parse(await fetchVersion(sidecarVersionUrl))
      if (deploy) return deploy
      sayOnce(`no deploy from ${sidecar}; checking version.json`)
    }
    // Resolved here, not at creation: a notifier may be created on a server (SSR).
    const info = parse(await fetchVersion(options.versionUrl ?? defaultVersionUrl()))
    // Its time is this build's; an older build is a lagging CDN edge, no news.
    if (info?.version === running) built ??= info.time
    if (info && newer(info)) return info
  }

  async function check(broken?: boolean): Promise<boolean> {
    return !misconfigured && consider(await ask(), !!broken)
  }

  return {
    start() {
      running$.abort()
      if (misconfigured) return console.error(`deploy-notify: ${named} is ${JSON.stringify(running)}`)
      const signal = (running$ = new AbortController()).signal
      let timer: ReturnType<typeof setInterval> | undefined
      signal.addEventListener('abort', () => {
        clearInterval(timer)
        updates?.stop()
      })
      /** One check for every tab: what it finds goes to all (not while this tab is hidden). */
      const poll = (send: (data: string) => void) => () =>
        document.hidden || void ask().then((deploy) => deploy && send(JSON.stringify(deploy)))
      const eventsUrl = `${sidecar}events${query}&version=${encodeURIComponent(running)}`
      // The stream says how many pages of the app this browser has open, by version. With no
      // sidecar, the leader polls, once however often the count changes.
      const lead = (send: (data: string) => void, pages: string, connection: AbortSignal) =>
        sidecar
          ? openStream(eventsUrl + pages, poll(send), pollMs, send, connection)
          : (timer ??= setInterval(poll(send), pollMs))
      shareAcrossTabs(
        key,
        running,
        lead,
        (data) => void consider(parse(data) ?? void sayOnce('ignored malformed data'), false),
        signal,
      )
      onBrokenBundle(() => void check(true), signal)
      onReturn(() => void check(), signal)
      // A note due after a reload, or `auto`'s policy, which counts unsaved work from the load on.
      if (options.apply === 'auto' || storage(session, noteKey(key))) void load()
    },
    stop: () => running$.abort(),
    check: () => check(),
    reload: () => load().then((parts) => (parts ? parts.reload() : location.reload())),
    dismiss: () => updates?.dismiss(),
    get update() {
      return updates?.update
    },
    navigate: (href) => !!updates?.navigate(href),
  }
}
