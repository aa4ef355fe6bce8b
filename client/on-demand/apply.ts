/**
 * The apply part: how a page takes a new version without losing work. Part of the on-demand
 * `client-ui.js` (loaded at start with `apply: 'auto'`, else when an update asks for it or a
 * note is due), so pages that never see an update never download it; the module bundles it.
 */
import { applyTextsFor, type ApplyTexts } from './apply-texts.js'
import { showBanner } from './banner.js'
import type { BannerOptions, Deploy, Texts, Update } from '../core/deploy.js'
import { watchIdle } from './idle.js'
import { appLinkTarget } from './links.js'
import { notesLink, showNote } from './note.js'
import { applyDelay, CountdownClock } from './schedule.js'
import { trackUnsavedWork } from './unsaved-work.js'

export interface ApplyOptions {
  /**
   * `prompt` (default): the banner asks, Reload applies. `auto`: no prompt; the page reloads by
   * itself at a safe moment (hidden, a navigation, idle) and never over unsaved work.
   */
  apply?: 'prompt' | 'auto'
  /** `auto`: a visible page with no input for this long (ms) counts as idle. Default 60000. */
  applyIdle?: number
  /** Automatic reloads of many pages are spread at random over this window (ms). Default 30000. */
  applySpread?: number
  /** How long (ms) a mandatory deploy counts down before it applies. Default 30000. */
  applyCountdown?: number
}

/** What the notifier lends the part. */
export interface ApplyHost {
  /** The version this page runs. */
  version: string
  options: ApplyOptions &
    BannerOptions & {
      ui?: 'banner' | 'none'
      texts?: Partial<Texts & ApplyTexts>
      beforeReload?: () => boolean | Promise<boolean>
    }
  /** Records `update` (loop guard, note) and reloads into it, or loads `href` in full. */
  apply(update: Update, href?: string): void
}

export interface ApplyPolicy {
  /** An update for this page: prompt for it or apply it, by the policy; returns "withdraw". */
  update(update: Update): () => void
  /** A route navigation: true when the part took it over as a full load of `href` (stop the router). */
  navigate(href: string): boolean
  /** After a reload: the marker written before it, as JSON; shows the note when it is this version. */
  note(marker: string): void
}

/** How often a waiting update looks for its moment, and a countdown ticks. */
const TICK_MS = 1000

export function startApply(host: ApplyHost): ApplyPolicy {
  const { options } = host
  const texts = { ...applyTextsFor(document.documentElement.lang), ...options.texts }
  // Numbers in code, strings from the script tag's data-apply-* attributes.
  const setting = (value: unknown, fallback: number) => {
    const number = Number(value)
    return value === undefined || value === '' || !(number >= 0) ? fallback : number
  }
  const idleMs = setting(options.applyIdle, 60_000)
  const unsaved = trackUnsavedWork(options.apply !== 'auto')
  const idleFor = watchIdle()
  /** The update waiting for its moment, while one does. */
  let pending: Update | undefined

  /** `beforeReload` for an automatic reload; a Promise is awaited, and a throw counts as no. */
  const allowed = async () => (await Promise.resolve(options.beforeReload?.()).catch(() => false)) !== false

  function navigate(href: string): boolean {
    if (!pending || unsaved()) return false
    // A router must know at once; an answer that is still a Promise counts as no.
    const answer = options.beforeReload?.()
    if (answer === false || answer instanceof Promise) return false
    host.apply(pending, href)
    return true
  }

  // Capturing on window runs before any router's handler, which then sees defaultPrevented.
  addEventListener(
    'click',
    (event) => {
      const href = pending && appLinkTarget(event)
      if (href && navigate(href)) event.preventDefault()
    },
    true,
  )

  function update(next: Update): () => void {
    // With `ui: 'none'` and `prompt`, the app asks and reloads: the part does nothing.
    if (options.ui === 'none' && options.apply !== 'auto') return () => {}
    const deploy: Partial<Deploy> = next.deploy ?? {}
    const auto = options.apply === 'auto' || !!deploy.mandatory
    const draw = options.ui !== 'none' && (!auto || !!deploy.mandatory)
    const link = draw && next.deploy ? notesLink(next.deploy, texts) : undefined
    const countdown = document.createElement('span')
    const hide = draw
      ? showBanner(next, options, [...(deploy.mandatory ? [countdown] : []), ...(link ? [link] : [])])
      : () => {}
    if (!auto) return hide

    pending = next
    const spread = setting(options.applySpread, 30_000)
    const clock = new CountdownClock(
      Date.now(),
      applyDelay(spread),
      deploy.mandatory ? setting(options.applyCountdown, 30_000) : undefined,
    )
    let timer: ReturnType<typeof setTimeout> | undefined
    let deciding = false
    const tick = async () => {
      clearTimeout(timer)
      const now = Date.now()
      const held = unsaved()
      const due = clock.advance(now, held)
      countdown.textContent = held ? texts.waiting : texts.countdown.replace('{s}', String(clock.secondsLeft()))
      const moment = document.hidden || idleFor() >= idleMs
      if (!held && !deciding && (due || (moment && clock.eligible(now)))) {
        deciding = true
        const yes = await allowed()
        deciding = false
        if (pending !== next) return
        if (yes) return host.apply(next)
        countdown.textContent = texts.waiting
      }
      timer = setTimeout(() => void tick(), clock.nextTick(now, TICK_MS))
    }
    const onVisibility = () => void tick()
    document.addEventListener('visibilitychange', onVisibility)
    void tick()
    return () => {
      if (pending === next) pending = undefined
      clearTimeout(timer)
      document.removeEventListener('visibilitychange', onVisibility)
      hide()
    }
  }

  function note(marker: string): void {
    let deploy: Deploy | undefined
    try {
      deploy = JSON.parse(marker) as Deploy
    } catch {
      return
    }
    if (deploy?.version === host.version && options.ui !== 'none') showNote(deploy, texts, options)
  }

  return { update, navigate, note }
}
