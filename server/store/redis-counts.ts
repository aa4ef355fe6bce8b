import { randomUUID } from 'node:crypto'
import type { Redis } from 'ioredis'
import { followsRule } from '../../contract/fields.js'
import { boundedVersions } from '../status.js'
import { COUNTS_PREFIX } from './redis-keys.js'
import type { StreamCounts } from './store.js'

/** How often each replica shares its counts and reads everyone's. */
export const SHARE_INTERVAL_MS = 2000
/** A replica that stopped sharing (killed, cut off) drops out of the sum after this long. */
export const SHARE_TTL_MS = 3 * SHARE_INTERVAL_MS

type Counts = Record<string, Record<string, number>>

/**
 * Open streams by app and version over every replica, for `/status` and the status page: each
 * replica writes its own counts (bounded like the metrics) to a key that expires unless renewed
 * every couple of seconds, and sums everyone's. Over the store's command connection; while it
 * fails, this replica's own counts stand in and `onFailure` hears why. What is not such a count
 * (another program's key, an app or version name that breaks its field rule) is skipped.
 */
export function shareStreamCounts(
  redis: Redis,
  local: StreamCounts,
  onFailure: (error: Error) => void,
): StreamCounts & { close(): void } {
  const key = `${COUNTS_PREFIX}${randomUUID()}`
  let combined: Map<string, Map<string, number>> | undefined

  async function share(): Promise<void> {
    const mine: Counts = {}
    for (const app of local.apps()) mine[app] = boundedVersions(local.versions(app))
    try {
      await redis.set(key, JSON.stringify(mine), 'PX', SHARE_TTL_MS)
      const keys: string[] = []
      for (let cursor = '0'; ;) {
        const [next, found] = await redis.scan(cursor, 'MATCH', `${COUNTS_PREFIX}*`, 'COUNT', 100)
        keys.push(...found)
        if ((cursor = next) === '0') break
      }
      const sum = new Map<string, Map<string, number>>()
      for (const value of keys.length ? await redis.mget(keys) : []) addCounts(sum, value)
      combined = sum
    } catch (error) {
      combined = undefined
      onFailure(error as Error)
    }
  }
  const timer = setInterval(() => void share(), SHARE_INTERVAL_MS).unref()

  return {
    apps: () => combined?.keys() ?? local.apps(),
    versions: (app) => (combined ? (combined.get(app) ?? new Map<string, number>()) : local.versions(app)),
    close: () => clearInterval(timer),
  }
}

/** Adds one replica's counts to the sum; anything but `{ app: { version: count } }` is skipped. */
function addCounts(sum: Map<string, Map<string, number>>, value: string | null): void {
  let counts: unknown
  try {
    counts = JSON.parse(value ?? '{}')
  } catch {
    return
  }
  if (typeof counts !== 'object' || counts === null) return
  for (const [app, versions] of Object.entries(counts as Record<string, unknown>)) {
    if (!followsRule('app', app) || typeof versions !== 'object' || versions === null) continue
    const total = sum.get(app) ?? new Map<string, number>()
    for (const [version, count] of Object.entries(versions as Record<string, unknown>)) {
      if (!followsRule('version', version) || !Number.isSafeInteger(count) || (count as number) < 0) continue
      total.set(version, (total.get(version) ?? 0) + (count as number))
    }
    sum.set(app, total)
  }
}
