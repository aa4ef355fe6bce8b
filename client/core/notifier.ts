import { onBrokenBundle } from './broken.js'
import type { Deploy, Update } from './deploy.js'
import { memoryKey, noteKey, session, storage } from './memory.js'
import type { NotifierOptions } from './options.js'
import type { UI } from '../on-demand/ui.js'
import type { Updates } from '../on-demand/updates.js'
import { onReturn } from './returns.js'
import { fetchVersion, openStream } from './stream.js'
import { shareAcrossTabs } from './tabs.js'

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

/**
 * The client's core, which every page loads: it follows the app (the stream shared by the tabs,
 * checks on return and on broken chunks) and tells current from not. Anything else loads with
 * `loadUI` once another version may be live (client/on-demand/updates.ts). `named` is how the page set
 * the version, for the error when it is missing.
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
  const key = memoryKey(app)
  // Bad configuration is loud and harmless: one error, no stream, no banner.
  const misconfigured = !running || running === 'undefined'
  let running$ = new AbortController()
  /** The on-demand part: loading, and once loaded; a load that failed is tried again next time. */
  let loading: Promise<Updates | undefined> | undefined
  let updates: Updates | undefined
  const said = new Set<string>()
  const sayOnce = (what: string) => {
    if (!said.has(what)) console.warn(`deploy-notify: ${what}`)
    said.add(what)
  }

  // A failure is the browser's to report (the URL that failed); nothing is shown then.
  const load = () =>
    (loading ??= loadUI().then(
      (parts) => (updates = parts.createUpdates({ version: running, options, key, check, sayOnce })),
      () => (loading = undefined),
    ))

  /**
   * What `deploy` (the sidecar's current one, if known) means for this page, or that its bundle
   * broke. The on-demand part gets the news in the order it came, also while it loads (the
   * callbacks of one promise run in order), and decides what a later word replaces.
   */
  const consider = async (deploy: Deploy | undefined, broken: boolean): Promise<boolean> => {
    if (broken || (deploy && deploy.version !== running)) return (await load())?.decide(deploy, broken) ?? false
    if (deploy) {
      void loading?.then((loaded) => loaded?.withdraw())
      options.onCurrent?.(deploy)
    }
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
    return !misconfigured && consider(parse(await fetchVersion(sidecarVersionUrl)), !!broken)
  }

  return {
    start() {
      running$.abort()
      if (misconfigured)
        return console.error(
          `deploy-notify: ${named} is ${JSON.stringify(running) ?? 'missing'}; not following deploys`,
        )
      const signal = (running$ = new AbortController()).signal
      signal.addEventListener('abort', () => updates?.stop())
      const eventsUrl = `${base}events${query}&version=${encodeURIComponent(running)}`
      // The stream says how many pages of the app this browser has open, by version.
      const lead = (send: (data: string) => void, pages: string, connection: AbortSignal) =>
        openStream(eventsUrl + pages, sidecarVersionUrl, pollInterval, send, connection)
      shareAcrossTabs(key, running, lead, (data) => void consider(parse(data), false), signal)
      onBrokenBundle(() => void check(true), signal)
      onReturn(() => void check(), signal)
      // A note due after a reload, or `auto`'s policy, which counts unsaved work from the load on.
      if (options.apply === 'auto' || storage(session, noteKey(key))) void load()
    },
    stop: () => running$.abort(),
    check: () => check(),
    reload: async () => {
      const parts = await load()
      await (parts ? parts.reload() : location.reload())
    },
    dismiss: () => updates?.dismiss(),
    get update() {
      return updates?.update
    },
    navigate: (href) => !!updates?.navigate(href),
  }
}
