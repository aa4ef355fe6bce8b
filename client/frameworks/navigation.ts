/**
 * What a router integration does on a navigation: ask the sidecar, within a bound, whether the
 * page is out of date, and if it is, load the target in full instead, since the old bundle
 * cannot load the new route's chunks. Shared by `deploy-notify/vue` and `deploy-notify/react-router`.
 */
import type { Notifier } from '../core/notifier.js'

export interface NavigationCheckOptions {
  /** How long a navigation waits for the check (ms) before it proceeds as if the page were current. Default 2000. */
  timeout?: number
}

/** Long enough for a round trip on a slow phone; short enough that a stalled sidecar only delays a click. */
const DEFAULT_TIMEOUT_MS = 2000

/**
 * Loads `href` (what the router resolved: a path, or `#/path` with hash history) as a new page.
 * Assigning a URL that differs only in its fragment would not load anything, so that case
 * pushes the entry itself and reloads.
 */
export function loadPage(href: string): void {
  const target = new URL(href, location.href)
  const withoutHash = (url: string) => url.replace(/#.*$/, '')
  if (target.href !== location.href && withoutHash(target.href) !== withoutHash(location.href))
    return location.assign(target.href)
  if (target.href !== location.href) history.pushState(null, '', target.href)
  location.reload()
}

/**
 * Checks before a navigation to `href`. Resolves `true` when the page is out of date and a full
 * load of `href` is under way (the router must not render the target), and `false` when the
 * navigation should proceed: the page is current, the sidecar gave no answer, or it took longer
 * than `timeout`.
 */
export async function checkBeforeNavigation(
  notifier: Pick<Notifier, 'check'>,
  href: string,
  { timeout = DEFAULT_TIMEOUT_MS }: NavigationCheckOptions = {},
): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const late = new Promise<false>((resolve) => (timer = setTimeout(resolve, timeout, false)))
  // A check that comes back after the bound still updates the notifier (its prompt shows), but no longer navigates.
  const outdated = await Promise.race([notifier.check().catch(() => false), late])
  clearTimeout(timer)
  if (outdated) loadPage(href)
  return outdated
}
