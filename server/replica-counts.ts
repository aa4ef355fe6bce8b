import { randomUUID } from 'node:crypto'
import { Redis } from 'ioredis'
import { boundedVersions, type StreamCounts } from './status.js'

const KEY_PREFIX = 'deploy-notify:streams:'
/** How often each replica shares its counts and reads everyone's. */
export const SHARE_INTERVAL_MS = 2000
/** A replica that stopped sharing (killed, cut off) drops out of the sum after this long. */
export const SHARE_TTL_MS = 3 * SHARE_INTERVAL_MS

type Counts = Record<string, Record<string, number>>

/**
 * Open pages by app and version over every replica, for `/status` and the status page:
 * each replica writes its own counts to Redis with an expiry every couple of seconds, and
 * sums everyone's. Counts only, keyed by a random replica id. While Redis is away, this
 * replica's own counts stand in.
 */
export class ReplicaCounts implements StreamCounts {
  readonly #local: StreamCounts
  readonly #redis: Redis
  readonly #key = `${KEY_PREFIX}${randomUUID()}`
  readonly #timer: NodeJS.Timeout
  #combined: Map<string, Map<string, number>> | undefined

  constructor(url: string, local: StreamCounts) {
    this.#local = local
    this.#redis = new Redis(url, { enableOfflineQueue: false, maxRetriesPerRequest: 1 })
    this.#redis.on('error', () => {}) // the store reports Redis; these counts just fall back
    this.#timer = setInterval(() => void this.#share(), SHARE_INTERVAL_MS).unref()
  }

  apps(): Iterable<string> {
    return this.#combined?.keys() ?? this.#local.apps()
  }

  versions(app: string): ReadonlyMap<string, number> {
    return this.#combined ? (this.#combined.get(app) ?? new Map()) : this.#local.versions(app)
  }

  close(): void {
    clearInterval(this.#timer)
    this.#redis.disconnect()
  }

  async #share(): Promise<void> {
    const mine: Counts = {}
    for (const app of this.#local.apps()) mine[app] = boundedVersions(this.#local.versions(app))
    try {
      await this.#redis.set(this.#key, JSON.stringify(mine), 'PX', SHARE_TTL_MS)
      const keys: string[] = []
      for (let cursor = '0'; ;) {
        const [next, found] = await this.#redis.scan(cursor, 'MATCH', `${KEY_PREFIX}*`, 'COUNT', 100)
        keys.push(...found)
        if ((cursor = next) === '0') break
      }
      const combined = new Map<string, Map<string, number>>()
      for (const value of keys.length ? await this.#redis.mget(keys) : []) {
        for (const [app, versions] of Object.entries(value ? (JSON.parse(value) as Counts) : {})) {
          const sum = combined.get(app) ?? new Map<string, number>()
          for (const [version, count] of Object.entries(versions)) sum.set(version, (sum.get(version) ?? 0) + count)
          combined.set(app, sum)
        }
      }
      this.#combined = combined
    } catch {
      this.#combined = undefined
    }
  }
}
