/** Checks that the page's return triggers are at least this far apart. */
const CHECK_GAP_MS = 10_000
/** A timer that fires this late means the page was suspended (a phone tab resumed). */
const TICK_MS = 10_000
const RESUMED_MS = 30_000

/**
 * Calls `check` when the page comes back to its user, until `signal` aborts: the tab shown
 * again, focus, the network back (at most every 10 s); and at once after a restore from the
 * back/forward cache (`pageshow` with `persisted`) or a suspension, which a phone may end with
 * no `visibilitychange` at all (iOS Safari): then a timer simply fires far too late.
 */
export function onReturn(check: () => void, signal: AbortSignal): void {
  let last = 0
  const soon = (now?: boolean) => {
    if (document.hidden || (!now && Date.now() - last < CHECK_GAP_MS)) return
    last = Date.now()
    check()
  }
  // visibilitychange bubbles from the document to the window.
  for (const type of ['visibilitychange', 'focus', 'online']) addEventListener(type, () => soon(), { signal })
  addEventListener('pageshow', (event) => event.persisted && soon(true), { signal })
  let tick = Date.now()
  const ticks = setInterval(() => {
    if (Date.now() - tick > RESUMED_MS) soon(true)
    tick = Date.now()
  }, TICK_MS)
  signal.addEventListener('abort', () => clearInterval(ticks))
}
