import type { Socket } from 'node:net'
import type { Deploy } from '../contract/deploy.js'
import { eventFrame } from './sse.js'
import type { EventStreams, StreamGroup } from './streams.js'

/**
 * Who listens to which app: the `/events` streams of the registry, by app and the version
 * each page runs, and the deploys they get.
 */
export class Hub {
  readonly #registry: EventStreams
  readonly #streams: StreamGroup

  constructor(registry: EventStreams) {
    this.#registry = registry
    this.#streams = registry.group()
  }

  /** Open `/events` streams on this process. */
  get size(): number {
    return this.#streams.size
  }

  /** Streams (of any kind) dropped because they stopped reading. */
  get dropped(): number {
    return this.#registry.dropped
  }

  /** Open streams of one app. */
  connections(app: string): number {
    return this.#streams.count(app)
  }

  /** Open streams from one client address. */
  connectionsFrom(address: string): number {
    return this.#streams.countFrom(address)
  }

  /** Apps with open streams. */
  apps(): IterableIterator<string> {
    return this.#streams.topics()
  }

  /**
   * Adds a stream from a client address whose response head is written, sends it `firstBytes`, and forgets it the
   * moment its socket closes, calling `onClose`. False when the socket already holds a stream
   * or is gone.
   */
  add(app: string, socket: Socket, address: string, firstBytes: Buffer, onClose?: () => void): boolean {
    return this.#streams.add(socket, app, address, firstBytes, onClose)
  }

  /** Ends every `/events` stream within `ms`, spread out (`StreamGroup.endWithin`). */
  letGo(ms: number): void {
    this.#streams.endWithin(ms)
  }

  /** Encodes the deploy once and writes that buffer to every stream of its app. */
  broadcast(deploy: Deploy): number {
    if (this.#streams.count(deploy.app) === 0) return 0
    return this.#streams.send(deploy.app, eventFrame('deploy', deploy))
  }
}
