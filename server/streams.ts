import type { Socket } from 'node:net'
import { keepaliveFrame } from './sse.js'

/**
 * The slow-reader rule, one for every stream: a stream that still has this many bytes queued
 * in user space (beyond what the kernel buffers) when its next frame comes is dropped. A page
 * that reads gets a frame in microseconds; one this far behind is gone or stuck.
 */
export const MAX_BUFFERED_BYTES = 64 * 1024
/** A stream's lifetime is drawn from [1 - LIFETIME_SPREAD, 1] x `lifetimeMs`, so reconnects spread out. */
export const LIFETIME_SPREAD = 0.25
/** How often streams past their lifetime are ended. */
const EXPIRY_TICK_MS = 1000
/**
 * How long an ended stream's client has to close its side. A page does so as soon as it reads
 * the end; one that has not is not reading, and its unsent bytes would stay in the kernel's
 * send buffer (up to a few MB), so its connection is reset, which frees them at once.
 */
export const END_GRACE_MS = 2000

/** One open stream: the raw socket of a response whose head is sent, and what it is counted as. */
interface Stream {
  readonly socket: Socket
  readonly group: StreamGroup
  readonly topic: string
  /** Its client address's streams in its group (the forwarded address behind a trusted proxy). */
  readonly from: AddressStreams
  /** The second (epoch) its lifetime ends, or 0 for never. */
  readonly endsAt: number
  /** Called once when the stream is forgotten, from the registry's one close listener. */
  readonly onClose: (() => void) | undefined
}

export interface StreamOptions {
  /** Interval of the keepalive comment every stream gets. */
  keepaliveMs: number
  /** How long a stream stays open at most (less a random part of a quarter); 0 = until the client leaves. */
  lifetimeMs: number
  /** Told of each socket that becomes a stream (the connection limits count streams apart). */
  onAdmit?: (socket: Socket) => void
}

/** The open streams of one client address in one group: one record shared by them all. */
interface AddressStreams {
  readonly address: string
  streams: number
}

/**
 * Every open event stream of one app instance, `/events` and `/status/events` alike: one
 * stream per socket, one keepalive timer, one lifetime, one slow-reader rule. Streams are
 * sockets whose head is written (a close-delimited body), so a frame goes to each as it is,
 * with no per-stream framing, object or timer beyond one small record.
 */
export class EventStreams {
  readonly #bySocket = new Map<Socket, Stream>()
  /** Streams by the second their lifetime ends. */
  readonly #expiring = new Map<number, Set<Stream>>()
  readonly #options: StreamOptions
  readonly #timers: NodeJS.Timeout[]
  readonly #onClose: (this: Socket) => void
  #dropped = 0
  #closed = false

  constructor(options: StreamOptions) {
    this.#options = options
    const bySocket = this.#bySocket
    const remove = (socket: Socket): void => this.#remove(socket)
    // One listener function for every socket, not a closure per stream.
    this.#onClose = function onStreamClose(this: Socket) {
      if (bySocket.has(this)) remove(this)
    }
    this.#timers = [
      // One timer for all streams; a comment costs a few bytes per stream per interval.
      setInterval(() => this.#keepalive(), options.keepaliveMs).unref(),
      setInterval(() => this.#expire(), EXPIRY_TICK_MS).unref(),
    ]
  }

  /** Open streams of every group. */
  get size(): number {
    return this.#bySocket.size
  }

  /** Streams dropped because they stopped reading. */
  get dropped(): number {
    return this.#dropped
  }

  /** A set of streams counted apart (the pages' `/events`, the status pages), sharing the rules above. */
  group(): StreamGroup {
    return new StreamGroup(this)
  }

  /** Whether this socket holds a stream. */
  holds(socket: Socket): boolean {
    return this.#bySocket.has(socket)
  }

  /** Ends every stream (browsers reconnect after their jittered retry); nothing is admitted after. */
  close(): void {
    this.#closed = true
    for (const timer of this.#timers) clearInterval(timer)
    // The process is going away: what is queued is sent, then the socket closes at once.
    for (const socket of this.#bySocket.keys()) {
      if (socket.writableLength > 0) socket.resetAndDestroy()
      else socket.end(() => socket.destroy())
    }
  }

  /** @internal: StreamGroup.add */
  admit(
    group: StreamGroup,
    socket: Socket,
    topic: string,
    from: AddressStreams,
    firstBytes: Buffer,
    onClose?: () => void,
  ): Stream | undefined {
    // Gone before its head was written: it would never emit 'close' again, so never count it.
    if (socket.destroyed) return undefined
    // One stream per connection: a second request on a socket that holds one (pipelined
    // behind it) ends the connection instead of counting the socket twice.
    if (this.#closed || this.#bySocket.has(socket)) {
      socket.destroy()
      return undefined
    }
    const { lifetimeMs } = this.#options
    const endsAt =
      lifetimeMs > 0 ? Math.ceil((Date.now() + lifetimeMs * (1 - LIFETIME_SPREAD * Math.random())) / 1000) : 0
    const stream: Stream = { socket, group, topic, from, endsAt, onClose }
    this.#bySocket.set(socket, stream)
    if (endsAt > 0) {
      let due = this.#expiring.get(endsAt)
      if (!due) this.#expiring.set(endsAt, (due = new Set()))
      due.add(stream)
    }
    socket.on('close', this.#onClose)
    socket.on('error', ignoreError)
    this.#options.onAdmit?.(socket)
    this.write(socket, firstBytes)
    return stream
  }

  /** Writes `bytes` to one stream, or drops the stream if it is too far behind (the slow-reader rule). */
  write(socket: Socket, bytes: Buffer): void {
    if (socket.destroyed) return
    if (socket.writableLength > MAX_BUFFERED_BYTES) {
      this.#dropped++
      // A reset, not a close: what the kernel still holds for it is freed, not sent.
      socket.resetAndDestroy()
      return
    }
    socket.write(bytes)
  }

  #keepalive(): void {
    for (const socket of this.#bySocket.keys()) this.write(socket, keepaliveFrame)
  }

  #expire(): void {
    const now = Date.now() / 1000
    for (const [second, due] of this.#expiring) {
      if (second > now) continue
      this.#expiring.delete(second)
      for (const stream of due) endStream(stream.socket)
    }
  }

  #remove(socket: Socket): void {
    const stream = this.#bySocket.get(socket)
    if (!stream) return
    this.#bySocket.delete(socket)
    stream.group.forget(stream)
    const due = this.#expiring.get(stream.endsAt)
    if (due?.delete(stream) && due.size === 0) this.#expiring.delete(stream.endsAt)
    stream.onClose?.()
  }
}

/**
 * Streams of one kind, by topic (an app) and by client address, counted for metrics and limits.
 * Pages by version are counted apart (`page-counts.ts`): one stream may carry several pages.
 */
export class StreamGroup {
  readonly #registry: EventStreams
  readonly #topics = new Map<string, Set<Stream>>()
  readonly #byAddress = new Map<string, AddressStreams>()
  #size = 0

  constructor(registry: EventStreams) {
    this.#registry = registry
  }

  /** Open streams of this group. */
  get size(): number {
    return this.#size
  }

  /** Open streams of one topic. */
  count(topic: string): number {
    return this.#topics.get(topic)?.size ?? 0
  }

  /** Open streams from one client address. */
  countFrom(address: string): number {
    return this.#byAddress.get(address)?.streams ?? 0
  }

  /** Topics with open streams. */
  topics(): IterableIterator<string> {
    return this.#topics.keys()
  }

  /**
   * Adds a stream from `address` whose response head is written, sends it `firstBytes`, and
   * forgets it the moment its socket closes. False when the socket is gone or already holds a stream.
   */
  add(socket: Socket, topic: string, address: string, firstBytes: Buffer, onClose?: () => void): boolean {
    const from = this.#byAddress.get(address) ?? { address, streams: 0 }
    const stream = this.#registry.admit(this, socket, topic, from, firstBytes, onClose)
    if (!stream) return false
    if (from.streams++ === 0) this.#byAddress.set(address, from)
    let streams = this.#topics.get(topic)
    if (!streams) this.#topics.set(topic, (streams = new Set()))
    streams.add(stream)
    this.#size++
    return true
  }

  /** Writes the same bytes to every stream of a topic; returns how many streams it has. */
  send(topic: string, frame: Buffer): number {
    const streams = this.#topics.get(topic)
    if (!streams) return 0
    for (const stream of streams) this.#registry.write(stream.socket, frame)
    return streams.size
  }

  /**
   * Like `send`, for frames that each hold the whole current state: a stream still busy with
   * the previous one skips this one, so its queue never grows past one frame.
   */
  sendLatest(topic: string, frame: Buffer): void {
    for (const stream of this.#topics.get(topic) ?? []) {
      if (stream.socket.writableLength === 0) this.#registry.write(stream.socket, frame)
    }
  }

  /**
   * Ends every stream of this group at a random moment within `ms`, so their clients reconnect
   * spread out (to another replica, when this one cannot count them).
   */
  endWithin(ms: number): void {
    for (const streams of this.#topics.values()) {
      for (const stream of streams) setTimeout(() => endStream(stream.socket), Math.random() * ms).unref()
    }
  }

  /** @internal: the registry forgets a closed stream. */
  forget(stream: Stream): void {
    const streams = this.#topics.get(stream.topic)
    if (!streams?.delete(stream)) return
    this.#size--
    if (--stream.from.streams === 0) this.#byAddress.delete(stream.from.address)
    if (streams.size === 0) this.#topics.delete(stream.topic)
  }
}

function ignoreError(): void {
  // A reset or a write after the peer left: 'close' follows and does the bookkeeping.
}

/**
 * Ends a stream: the browser reads the end and reconnects after its retry hint. A stream with
 * bytes still queued in user space is not reading, so it is reset at once; any other that has
 * not closed its side after `END_GRACE_MS` is reset then.
 */
export function endStream(socket: Socket): void {
  if (socket.destroyed) return
  if (socket.writableLength > 0) {
    socket.resetAndDestroy()
    return
  }
  socket.end()
  const reset = setTimeout(() => socket.resetAndDestroy(), END_GRACE_MS).unref()
  socket.once('close', () => clearTimeout(reset))
}
