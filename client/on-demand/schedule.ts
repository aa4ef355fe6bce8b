/**
 * When a page that learned of a deploy may reload by itself. Every open page learns within the
 * same second, so each waits a random share of the spread window first: N pages then reach the
 * origin at about N / spread per second instead of all at once. Pure (the clock is passed in),
 * so the spread can be measured over thousands of simulated pages with this very code.
 */

/** The wait before this page's automatic reload: uniform in [0, spread). */
export const applyDelay = (spreadMs: number, random: () => number = Math.random): number =>
  Math.max(0, spreadMs) * random()

/** A page's wait for its turn and, for a mandatory deploy, its countdown, which unsaved work pauses. */
export class CountdownClock {
  private readonly eligibleAt: number
  private remaining: number
  private last: number

  /**
   * `delay` from `applyDelay`; `countdownMs` only for a mandatory deploy, which then applies at
   * the latest `countdownMs + delay` of time without unsaved work after `start`.
   */
  constructor(start: number, delay: number, countdownMs?: number) {
    this.eligibleAt = start + delay
    this.remaining = countdownMs === undefined ? Infinity : countdownMs + delay
    this.last = start
  }

  /** Lets time pass up to `now`; time spent `held` by unsaved work does not count. True once the countdown is over. */
  advance(now: number, held: boolean): boolean {
    if (!held) this.remaining -= now - this.last
    this.last = now
    return this.remaining <= 0
  }

  /** Whether the page's turn has come for a reload at a safe moment (hidden, idle). */
  eligible(now: number): boolean {
    return now >= this.eligibleAt
  }

  /** Whole seconds the countdown shows. */
  secondsLeft(): number {
    return Math.max(0, Math.ceil(this.remaining / 1000))
  }

  /** When to look again: at the next tick, or sooner when the turn or the countdown's end comes first. */
  nextTick(now: number, tickMs: number): number {
    const until = [tickMs, this.eligibleAt - now, this.remaining].filter((ms) => ms > 0)
    return Math.max(10, Math.min(...until))
  }
}
