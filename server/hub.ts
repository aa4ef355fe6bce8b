import type { Socket } from 'node:net'
import type { Deploy } from '../contract/deploy.js'
import { eventFrame, keepaliveFrame } from './sse.js'

/**
 * Bytes a stream may have queued in user space, beyond what the kernel buffers. A page that
 * reads gets a frame or a comment in microseconds; one that is this far behind is gone or
 * stuck, and its buffer would otherwise grow with every broadcast.
 */
export const MAX_BUFFERED_BYTES = 64 * 1024

/**
 * Who listens to which app, and the bytes they get. Streams are the raw sockets of `/events`
 * responses whose head is already sent (a close-delimited body), so a frame is written to each
 * socket as it is, with no per-stream framing, object or timer.
 */
export class Hub {
  readonly #apps = new Map<string, Set<Socket>>()
  readonly #keepalive: NodeJS.Timeout
  #size = 0
  #dropped = 0

  constructor(keepaliveMs: number) {
    // One timer for all streams; a comment costs a few bytes per stream per interval.
    this.#keepalive = setInterval(() => this.#writeAll(keepaliveFrame), keepaliveMs).unref()
  }

  /** Open streams on this process. */
  get size(): number {
    return this.#size
  }

  /** Streams dropped because they stopped reading. */
  get dropped(): number {
    return this.#dropped
  }

  /** Open streams of one app. */
  connections(app: string): number {
    return this.#apps.get(app)?.size ?? 0
  }

  /** Apps with open streams. */
  apps(): IterableIterator<string> {
    return this.#apps.keys()
  }

  /**
   * Adds a stream whose response head is written, sends it `firstBytes`, and forgets it the
   * moment its socket closes.
   */
  add(app: string, socket: Socket, firstBytes: Buffer): void {
    // Gone before its head was written: it would never emit 'close' again, so never count it.
    if (socket.destroyed) return
    let sockets = this.#apps.get(app)
    if (!sockets) this.#apps.set(app, (sockets = new Set()))
    sockets.add(socket)
    this.#size++
    socket.once('close', () => this.#remove(app, socket))
    this.#write(socket, firstBytes)
  }

  /** Encodes the deploy once and writes that buffer to every stream of its app. */
  broadcast(deploy: Deploy): number {
    const sockets = this.#apps.get(deploy.app)
    if (!sockets) return 0
    const frame = eventFrame('deploy', deploy)
    for (const socket of sockets) this.#write(socket, frame)
    return sockets.size
  }

  /** Ends every stream (browsers reconnect after their jittered retry) and stops the timer. */
  close(): void {
    clearInterval(this.#keepalive)
    for (const sockets of this.#apps.values()) {
      // Finish what is queued, then close without waiting for the browser's side.
      for (const socket of sockets) socket.end(() => socket.destroy())
    }
  }

  #write(socket: Socket, bytes: Buffer): void {
    if (socket.destroyed) return
    // write() returns false once past the socket's high-water mark; only then is it worth a look.
    if (!socket.write(bytes) && socket.writableLength > MAX_BUFFERED_BYTES) {
      this.#dropped++
      socket.destroy()
    }
  }

  #writeAll(bytes: Buffer): void {
    for (const sockets of this.#apps.values()) {
      for (const socket of sockets) this.#write(socket, bytes)
    }
  }

  #remove(app: string, socket: Socket): void {
    const sockets = this.#apps.get(app)
    if (!sockets?.delete(socket)) return
    this.#size--
    if (sockets.size === 0) this.#apps.delete(app)
  }
}
