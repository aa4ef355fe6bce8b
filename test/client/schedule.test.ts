import { describe, expect, it } from 'vitest'
import { applyDelay, CountdownClock } from '../../client/on-demand/schedule.js'
import { spreadFigure } from './reload-spread.js'

// The client's own scheduling code, run in Node: a page's turn, and a mandatory countdown.
describe('the apply schedule', () => {
  it('spreads 10,000 pages evenly over the window (the default 30 s)', () => {
    const spread = 30_000
    // Every page learns of the deploy within the same 200 ms, as with a broadcast.
    const offsets = Array.from({ length: 10_000 }, () => {
      const arrival = Math.random() * 200
      const clock = new CountdownClock(arrival, applyDelay(spread))
      // Hidden or idle pages take their turn as soon as it comes; the timer wakes them then.
      return arrival + applyTurn(clock, arrival)
    })
    const figure = spreadFigure(offsets)
    console.log(`10,000 simulated pages, spread 30 s: ${JSON.stringify(figure)}`)
    expect(figure.last).toBeLessThanOrEqual(spread + 200)
    expect(figure.first).toBeLessThan(100)
    // 333 a second on average; a burst of twice that would mean the spread failed.
    expect(figure.peakPerSecond).toBeLessThan(450)
  })

  it('counts a mandatory deploy down, not while work is unsaved', () => {
    const clock = new CountdownClock(0, 0, 3000)
    expect(clock.secondsLeft()).toBe(3)
    expect(clock.advance(1000, false)).toBe(false)
    expect(clock.secondsLeft()).toBe(2)
    // Ten seconds of typing change nothing.
    expect(clock.advance(11_000, true)).toBe(false)
    expect(clock.secondsLeft()).toBe(2)
    expect(clock.advance(12_500, false)).toBe(false)
    expect(clock.advance(13_000, false)).toBe(true)
    expect(clock.secondsLeft()).toBe(0)
  })

  it("adds the page's turn to the countdown, and wakes at the turn or the end, whichever is first", () => {
    const clock = new CountdownClock(1000, 400, 3000)
    expect(clock.eligible(1399)).toBe(false)
    expect(clock.eligible(1400)).toBe(true)
    expect(clock.secondsLeft()).toBe(4) // 3.4 s
    expect(clock.nextTick(1000, 1000)).toBe(400)
    expect(clock.advance(4000, false)).toBe(false)
    expect(clock.nextTick(4000, 1000)).toBe(400)
    expect(clock.advance(4400, false)).toBe(true)
  })
})

/** Walks the page's timer from `now` until its turn, as the client's tick does; returns the wait. */
function applyTurn(clock: CountdownClock, now: number): number {
  let t = now
  while (!clock.eligible(t)) t += clock.nextTick(t, 1000)
  return t - now
}
