/**
 * Everything that happens once another version may be live, loaded on demand (with the banner,
 * in `client-ui.js`) since most pages never see a deploy: asking the origin what it serves,
 * with backoff while a CDN catches up; prompting once per version; the banner or the apply
 * policy; Reload, Later, and the note after a reload.
 */
import { startApply, type ApplyPolicy } from './apply.js'
import { showBanner } from './banner.js'
import type { Deploy, Update } from '../core/deploy.js'
import { local, memoryKey, noteKey, session, storage } from '../core/memory.js'
import type { NotifierOptions } from '../core/options.js'
import { defaultVersionUrl } from '../core/origin.js'
import { servedVersion } from './origin.js'
import { reloadPage, updateWorker } from './reload.js'

/** Re-checks of the origin while a CDN catches up: 1 s doubling to a minute, about 5 minutes in all. */
const ORIGIN_RETRIES = 9

/** What the notifier lends this part. */
export interface UpdatesHost {
  /** `version` is the one this page runs. */
  options: NotifierOptions
  /** Whether what version.json says is a build not older than this page's. */
  newer: (info: Deploy) => boolean
  /** The notifier's check, for the update's `check()`. */
  check: () => Promise<boolean>
  /** Warns once per distinct message. */
  sayOnce: (what: string) => void
}

export interface Updates {
  /**
   * Decides what `deploy` (the sidecar's current one, if known, and not the running version)
   * means for this page, or that the bundle broke; true when it prompted for an update.
   */
  decide(deploy: Deploy | undefined, broken: boolean): Promise<boolean>
  /** The page is current after all: hides the banner and ends any re-check. */
  withdraw(): void
  /** The notifier stopped. */
  stop(): void
  reload(): Promise<void>
  dismiss(): void
  navigate(href: string): boolean
  readonly update: Update | undefined
}

export function createUpdates(host: UpdatesHost): Updates {
  const { options, sayOnce } = host
  const running = options.version
  /** Under which the tab remembers (client/core/memory.ts). */
  const key = memoryKey(options.app)
  const versionUrl = options.versionUrl ?? defaultVersionUrl()
  const prompted = new Set<string>()
  let update: Update | undefined
  let policy: ApplyPolicy | undefined
  let worker: Promise<unknown> | undefined
  let hide = () => {}
  let rounds = 0
  /** Whether the decision under way is about a failed file of the build. */
  let brokenCheck = false
  let retry: ReturnType<typeof setTimeout> | undefined

  /** Records the update being loaded: never prompt for it again in this tab, and note it after the load. */
  const remember = ({ version, deploy }: Update) => {
    storage(session, key, version)
    if (deploy) storage(session, noteKey(key), JSON.stringify(deploy))
  }

  const policyOf = () =>
    (policy ??= startApply({
      version: running,
      options,
      apply(next, href) {
        remember(next)
        void reloadPage(worker, href)
      },
    }))

  const cancel = () => {
    rounds++
    clearTimeout(retry)
  }

  const stop = () => {
    cancel()
    hide()
  }

  /** The sidecar or the origin found the page current: it ends a look into an announcement, not into a failed file. */
  const withdraw = () => {
    if (!brokenCheck) cancel()
    hide()
    if (update) prompted.delete(update.version)
    update = undefined
  }

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
    worker = updateWorker()
    hide()
    // The apply policy takes what needs it: `auto`, a mandatory countdown, a notes link.
    const { mandatory, notesUrl } = next.deploy ?? {}
    if (options.apply === 'auto' || mandatory || notesUrl) hide = policyOf().update(next)
    else if (options.ui !== 'none') hide = showBanner(next, options)
  }

  /**
   * A banner only once the origin serves another version, which Reload brings: the announced
   * one (version.json's own word, with no sidecar), or, when the bundle broke, any build not
   * older than the page's. The origin serving the running version means a CDN
   * still catching up (asked again, with backoff) or, for a version the sidecar never deployed,
   * a page loaded in the deploy window: current.
   */
  const decide = async (deploy: Deploy | undefined, broken: boolean, attempt = 0): Promise<boolean> => {
    cancel()
    const round = rounds
    brokenCheck = broken
    const served = await servedVersion(versionUrl)
    if (round !== rounds) return false
    if (!served) sayOnce(`no version in ${versionUrl}`)
    else if (served.version === running) {
      withdraw()
      if (broken) {
        sayOnce(`a file failed to load; the origin still serves ${running}`)
        return false
      }
      if (deploy?.unknownVersion) return false
    } else if (served.version === deploy?.version || (broken && host.newer(served))) {
      prompt({
        deploy: served.version === deploy?.version ? deploy : undefined,
        reason: broken ? 'broken' : 'deploy',
        version: served.version,
        reload,
        check: host.check,
        dismiss,
      })
      return true
    }
    if (attempt < ORIGIN_RETRIES)
      retry = setTimeout(() => void decide(deploy, broken, attempt + 1), Math.min(60_000, 1000 * 2 ** attempt))
    return false
  }

  async function reload(): Promise<void> {
    if ((await options.beforeReload?.()) === false) return
    if (update) remember(update)
    await reloadPage(worker)
  }

  function dismiss(): void {
    hide()
    if (update) storage(local, key, update.version)
  }

  // Later in another tab of the app hides this tab's banner too.
  addEventListener('storage', (event) => event.key === key && event.newValue === update?.version && hide())
  // After a reload: the note, when the reload brought the deploy it recorded. With `auto`, the
  // policy starts now (the page's start): unsaved work counts from the load on.
  const note = storage(session, noteKey(key))
  if (note) storage(session, noteKey(key), '')
  if (note || options.apply === 'auto') {
    const started = policyOf()
    if (note) started.note(note)
  }

  return {
    decide,
    withdraw,
    stop,
    reload,
    dismiss,
    navigate: (href) => !!policy?.navigate(href),
    get update() {
      return update
    },
  }
}
