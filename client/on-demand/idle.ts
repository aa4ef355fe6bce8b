/** What says a person is at the page: any of these resets the idle clock. */
const INPUT_EVENTS = ['pointerdown', 'pointermove', 'keydown', 'wheel', 'touchstart', 'scroll'] as const

/**
 * Starts watching input and returns how long (ms) the page has gone without any; the clock
 * starts now. Listeners capture and are passive, so they never delay the page's own handling.
 */
export function watchIdle(): () => number {
  let last = Date.now()
  const touch = () => (last = Date.now())
  for (const type of INPUT_EVENTS) addEventListener(type, touch, { capture: true, passive: true })
  return () => Date.now() - last
}
