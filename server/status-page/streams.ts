import type { Socket } from 'node:net'
import { statusFrame } from '../sse.js'
import type { Status } from '../status.js'
import type { EventStreams, StreamGroup } from '../streams.js'

/** How often every status page gets fresh counts. */
export const STATUS_INTERVAL_MS = 2000
/** Status pages open at once; each costs a snapshot every `STATUS_INTERVAL_MS`. */
export const MAX_STATUS_STREAMS = 100
/** Status pages open at once from one client address: a team's wall screens, not every slot. */
export const MAX_STATUS_STREAMS_PER_ADDRESS = 10
/**
 * Samples repeated in each periodic event. The first event of a stream carries the whole hour;
 * later ones only this much, which the page merges by `t`: a phone left open on the page would
 * otherwise download the same hour of samples every two seconds.
 */
export const RECENT_SAMPLES_MS = 60_000
/** Every status page follows the same snapshot, so they share one topic. */
const TOPIC = 'status'

/** The snapshot with only the samples of the last `RECENT_SAMPLES_MS`. */
export function withRecentSamples(status: Status): Status {
  const since = Date.parse(status.time) - RECENT_SAMPLES_MS
  const apps = Object.entries(status.apps).map(
    ([app, s]) => [app, { ...s, samples: s.samples.filter((sample) => sample.t >= since) }] as const,
  )
  return { ...status, apps: Object.fromEntries(apps) }
}

/**
 * The open `/status/events` streams, held by the app's one stream registry (its keepalive,
 * lifetime and slow-reader rule), plus the timer that sends them a snapshot, running only
 * while one is open.
 */
export class StatusStreams {
  readonly #streams: StreamGroup
  readonly #snapshot: () => Status
  readonly #onError: (error: unknown) => void
  #timer: NodeJS.Timeout | undefined

  constructor(registry: EventStreams, snapshot: () => Status, onError: (error: unknown) => void) {
    this.#streams = registry.group()
    this.#snapshot = snapshot
    this.#onError = onError
  }

  get size(): number {
    return this.#streams.size
  }

  /** Open status streams from one client address. */
  countFrom(address: string): number {
    return this.#streams.countFrom(address)
  }

  /**
   * Adds a stream from a client address and sends it `firstBytes` (whatever their size: an hour of samples is sent once
   * per page). False when the socket already holds a stream or is gone.
   */
  add(socket: Socket, address: string, firstBytes: Buffer): boolean {
    if (!this.#streams.add(socket, TOPIC, address, firstBytes)) return false
    socket.once('close', () => {
      if (this.#streams.size === 0) this.#stopTimer()
    })
    this.#timer ??= setInterval(() => this.push(), STATUS_INTERVAL_MS).unref()
    return true
  }

  /** Takes one snapshot and writes the same bytes to every open status stream. */
  push(): void {
    if (this.#streams.size === 0) return
    let frame: Buffer
    try {
      frame = statusFrame(withRecentSamples(this.#snapshot()))
    } catch (error) {
      // The pages keep their last numbers; the next tick tries again.
      this.#onError(error)
      return
    }
    // Each event holds the whole current state, so a page still reading the last one skips this one.
    this.#streams.sendLatest(TOPIC, frame)
  }

  /** Stops the timer; the registry ends the streams. */
  close(): void {
    this.#stopTimer()
  }

  #stopTimer(): void {
    clearInterval(this.#timer)
    this.#timer = undefined
  }
}
