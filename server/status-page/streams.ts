import type { Socket } from 'node:net'
import type { Status } from '../status.js'

/** How often every status page gets fresh counts. */
export const STATUS_INTERVAL_MS = 2000
/** Status pages open at once; each costs a snapshot every `STATUS_INTERVAL_MS`. */
export const MAX_STATUS_STREAMS = 100
/**
 * Samples repeated in each periodic event. The first event of a stream carries the whole hour;
 * later ones only this much, which the page merges by `t`: a phone left open on the page would
 * otherwise download the same hour of samples every two seconds.
 */
export const RECENT_SAMPLES_MS = 60_000
/** Ticks a page may stay behind (its previous bytes still queued) before its stream is dropped. */
const MAX_TICKS_BEHIND = 15

/**
 * One `status` event: the snapshot as one `data` line (JSON.stringify escapes every CR and LF,
 * so nothing in it can start another field; HTML Living Standard, "Server-sent events").
 */
export function statusFrame(status: Status): Buffer {
  return Buffer.from(`event: status\ndata: ${JSON.stringify(status)}\n\n`)
}

/** The snapshot with only the samples of the last `RECENT_SAMPLES_MS`. */
export function withRecentSamples(status: Status): Status {
  const since = Date.parse(status.time) - RECENT_SAMPLES_MS
  const apps = Object.entries(status.apps).map(
    ([app, s]) => [app, { ...s, samples: s.samples.filter((sample) => sample.t >= since) }] as const,
  )
  return { ...status, apps: Object.fromEntries(apps) }
}

/**
 * The open `/status/events` streams of one app instance: raw sockets whose head is sent, like
 * the hub's. One timer for all of them, running only while one is open; `close()` ends them.
 */
export class StatusStreams {
  /** Each open stream, with the ticks it has been behind in a row. */
  readonly #sockets = new Map<Socket, number>()
  readonly #snapshot: () => Status
  readonly #onError: (error: unknown) => void
  #timer: NodeJS.Timeout | undefined
  #closed = false

  constructor(snapshot: () => Status, onError: (error: unknown) => void) {
    this.#snapshot = snapshot
    this.#onError = onError
  }

  get size(): number {
    return this.#sockets.size
  }

  /** Adds a stream, sends it `firstBytes`, and forgets it the moment its socket closes. */
  add(socket: Socket, firstBytes: Buffer): void {
    if (this.#closed) {
      socket.destroy()
      return
    }
    this.#sockets.set(socket, 0)
    socket.once('close', () => this.#remove(socket))
    // Whatever its size (an hour of samples of many apps): it is written once per page.
    socket.write(firstBytes)
    this.#timer ??= setInterval(() => this.push(), STATUS_INTERVAL_MS).unref()
  }

  /** Takes one snapshot and writes the same bytes to every open status stream. */
  push(): void {
    if (this.#closed || this.#sockets.size === 0) return
    let frame: Buffer
    try {
      frame = statusFrame(withRecentSamples(this.#snapshot()))
    } catch (error) {
      // The pages keep their last numbers; the next tick tries again.
      this.#onError(error)
      return
    }
    for (const [socket, behind] of this.#sockets) {
      if (socket.destroyed || socket.writableEnded) continue
      // Each event holds the whole current state, so a page still reading the last one can
      // skip this one; its queue never grows past one event. One that stays behind is gone.
      if (socket.writableLength === 0) {
        this.#sockets.set(socket, 0)
        socket.write(frame)
      } else if (behind < MAX_TICKS_BEHIND) this.#sockets.set(socket, behind + 1)
      else socket.destroy()
    }
  }

  /** Stops the timer and ends every stream; pages reconnect after their retry. */
  close(): void {
    this.#closed = true
    this.#stopTimer()
    for (const socket of this.#sockets.keys()) socket.end(() => socket.destroy())
  }

  #remove(socket: Socket): void {
    this.#sockets.delete(socket)
    if (this.#sockets.size === 0) this.#stopTimer()
  }

  #stopTimer(): void {
    clearInterval(this.#timer)
    this.#timer = undefined
  }
}
