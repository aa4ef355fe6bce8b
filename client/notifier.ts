import type { ApplyOptions, ApplyPolicy, startApply } from './apply.js'
import type { ApplyTexts } from './apply-texts.js'
import { showBanner, textsFor, type Texts } from './banner.js'
import { onBrokenBundle } from './broken.js'
import type { Deploy, Update } from './deploy.js'
import { reloadPage, updateWorker } from './reload.js'
import { fetchVersion, openStream } from './stream.js'
import { shareAcrossTabs } from './tabs.js'

export interface NotifierOptions extends ApplyOptions {
  /** The version this page runs, stamped in at build time. */
  version: string
  /** The sidecar's base URL, path prefix included (`https://example.com/dn`). */
  url: string
  /** Which app's channel to follow. Default `default`. */
  app?: string
  /** Milliseconds between `/version` checks while the stream cannot be held. Default 60000. */
  pollInterval?: number
  /** `banner` draws the built-in banner; `none` leaves the prompt to `onUpdate`. Default `banner`. */
  ui?: 'banner' | 'none'
  /** Replaces the banner's words (defaults follow `<html lang>`: English, Chinese, Russian). */
  texts?: Partial<Texts & ApplyTexts>
  /** A version other than the running one was seen, or the bundle broke; once per version. */
  onUpdate?: (update: Update) => void
  /** A check or the stream found the page up to date. */
  onCurrent?: (deploy: Deploy) => void
  /** Called before reloading; return false to stay (an unsaved form, say). */
  beforeReload?: () => boolean | Promise<boolean>
}

export interface Notifier {
  /** Follows the app: stream (one per browser), checks on focus and on broken chunks. */
  start(): void
  stop(): void
  /**
   * Asks the sidecar for the current version; true when the page is out of date. With `href`
   * (a router guard's target), an update navigates there with a full page load instead, since
   * the old bundle cannot load the new route's chunks.
   */
  check(href?: string): Promise<boolean>
  /** Reloads into the new version, through a waiting service worker when there is one. */
  reload(): Promise<void>
  /**
   * For router integrations, before a route change to `href`: when an update waits to be applied
   * (`apply: 'auto'`, or a mandatory deploy) and no work would be lost, loads `href` in full at the
   * new version and returns true (cancel the route change); otherwise false.
   */
  navigate(href: string): boolean
}

/** Loads the apply part: the classic script from the sidecar, the module from its own bundle. */
export type LoadApplyPart = (base: string) => Promise<{ startApply: typeof startApply }>

/** Checks that focus and network events trigger are at least this far apart. */
const CHECK_GAP_MS = 10_000

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

export function createNotifier(
  options: NotifierOptions,
  loadPart: LoadApplyPart = (base) => import(`${base}apply.js`),
): Notifier {
  const { version: running, app = 'default', pollInterval = 60_000 } = options
  const base = `${options.url.replace(/\/+$/, '')}/`
  const query = `?app=${encodeURIComponent(app)}`
  const versionUrl = `${base}version${query}`
  // Per app, so several notifiers on one page (micro-frontends) keep apart.
  const key = `deploy-notify:${app}`
  const texts = { ...textsFor(document.documentElement.lang), ...options.texts }
  const prompted = new Set<string>()
  // The reload's record for the page it lands on: shows the note there when that runs this version.
  const noteKey = `${key}:note`
  let part: Promise<ApplyPolicy> | undefined
  let policy: ApplyPolicy | undefined
  let announced: Deploy | undefined
  let shown: string | undefined
  let workerUpdate: Promise<unknown> | undefined
  let hide = () => {}
  let running$ = new AbortController()
  let lastCheck = 0
  let warned = false

  const prompt = (update: Update) => {
    const version = update.deploy?.version ?? ''
    // Once per version in this tab, even across the reload that did not bring it (a stale
    // cache): never twice, so never a loop; and never for a version dismissed with Later.
    if (
      prompted.has(version) ||
      (version && (storage(() => localStorage, key) === version || storage(() => sessionStorage, key) === version))
    )
      return
    prompted.add(version)
    workerUpdate = updateWorker()
    options.onUpdate?.(update)
    const deploy = (announced = update.deploy)
    hide()
    shown = version
    // The apply part decides (and draws) how a deploy is taken: by the policy, with a countdown or
    // a notes link; should it fail to load, the plain banner asks.
    if (deploy)
      void applyPart().then(
        (policy) => shown === version && (hide = policy.update(deploy)),
        () => draw(deploy),
      )
    else draw(deploy)
  }

  const later = (deploy?: Deploy) => {
    hide()
    if (deploy) storage(() => localStorage, key, deploy.version)
  }

  const draw = (deploy?: Deploy) =>
    options.ui !== 'none' &&
    (hide = showBanner(
      texts,
      deploy?.message,
      deploy?.mandatory,
      () => void reload(deploy),
      () => later(deploy),
    ))

  /** Records the deploy being loaded: never prompt for it again in this tab, and note it after the load. */
  const remember = (deploy?: Deploy) => {
    if (!deploy) return
    storage(() => sessionStorage, key, deploy.version)
    storage(() => sessionStorage, noteKey, JSON.stringify(deploy))
  }

  const applyPart = () =>
    (part ??= loadPart(base)
      .then(({ startApply }) =>
        startApply({
          version: running,
          options,
          texts,
          apply(deploy, href) {
            remember(deploy)
            if (href) location.assign(href)
            else void reloadPage(workerUpdate)
          },
          reload,
          later,
        }),
      )
      .then((loaded) => (policy = loaded)))

  /** Handles event or `/version` data; returns the deploy when it was one. */
  const receive = (data: string): Deploy | undefined => {
    let deploy: Deploy | undefined
    try {
      deploy = JSON.parse(data) as Deploy
    } catch {
      // handled below, as data of the wrong shape
    }
    if (typeof deploy?.version !== 'string') {
      if (!warned) console.warn('deploy-notify: ignored malformed data', data)
      warned = true
      return
    }
    if (deploy.version === running) options.onCurrent?.(deploy)
    else prompt({ deploy, reason: 'deploy' })
    return deploy
  }

  const check = async (href?: string): Promise<boolean> => {
    lastCheck = Date.now()
    const data = await fetchVersion(versionUrl)
    const deploy = data ? receive(data) : undefined
    const version = deploy?.version
    const outdated = !!version && version !== running
    // A navigation that lands on the same old page (a stale cache) must not be tried again.
    if (outdated && href && storage(() => sessionStorage, key) !== version) {
      remember(deploy)
      location.assign(href)
    }
    return outdated
  }

  async function reload(deploy?: Deploy): Promise<void> {
    if ((await options.beforeReload?.()) === false) return
    remember(deploy)
    await reloadPage(workerUpdate)
  }

  const soonCheck = () => {
    if (!document.hidden && Date.now() - lastCheck > CHECK_GAP_MS) void check()
  }

  return {
    start() {
      running$.abort()
      const signal = (running$ = new AbortController()).signal
      signal.addEventListener('abort', () => hide())
      const eventsUrl = `${base}events${query}&version=${encodeURIComponent(running)}`
      shareAcrossTabs(key, (send) => openStream(eventsUrl, versionUrl, pollInterval, send, signal), receive, signal)
      onBrokenBundle(() => {
        prompt({ reason: 'broken' })
        void check()
      }, signal)
      document.addEventListener('visibilitychange', soonCheck, { signal })
      addEventListener('focus', soonCheck, { signal })
      addEventListener('online', soonCheck, { signal })
      // Later in another tab of the app hides this tab's banner too.
      addEventListener('storage', (event) => event.key === key && event.newValue === shown && hide(), { signal })
      const note = storage(() => sessionStorage, noteKey)
      if (note) storage(() => sessionStorage, noteKey, '')
      // With `auto`, the part loads now: unsaved work counts from the page's load on.
      if (note || options.apply === 'auto')
        void applyPart().then(
          (policy) => note && policy.note(note),
          () => {},
        )
    },
    stop: () => running$.abort(),
    check,
    reload: () => reload(announced),
    navigate: (href) => !!policy?.navigate(href),
  }
}
