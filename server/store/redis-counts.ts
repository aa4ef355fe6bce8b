import { randomBytes } from 'node:crypto'
import { hostname } from 'node:os'
import { followsRule } from '../../contract/fields.js'
import { boundedVersions } from '../status.js'
import { END_GRACE_MS } from '../streams.js'
import type { RedisClient } from './redis-connection.js'
import type { RedisKeys } from './redis-keys.js'
import { LET_GO_MS, type SharedCounts, type StreamCounts } from './store.js'

/** How often each replica shares its counts and reads everyone's. */
export const SHARE_INTERVAL_MS = 2000
/** A replica whose counts are older than this stopped reporting (cut off, hung, killed). */
export const SHARE_TTL_MS = 3 * SHARE_INTERVAL_MS
/** Slack for a page bounced by a cut-off replica (503) before it lands on a healthy one (client backoff). */
const BOUNCE_MS = 5000

/** What the timings below are derived from: the replicas' settings (all replicas are assumed to share them). */
export interface CountsTiming {
  /** REDIS_COMMAND_TIMEOUT_MS: how long a replica takes at most to see that its link is gone. */
  commandTimeoutMs: number
  /** RETRY_MS: pages reconnect within 1.5 times this after their stream ends. */
  retryMs: number
}

/** How long the pages of a stream that ended take to be counted by another replica and read here. */
export const reconnectMs = ({ retryMs }: CountsTiming): number => 1.5 * retryMs + BOUNCE_MS + 2 * SHARE_INTERVAL_MS

/**
 * How long the last counts of a replica that stopped reporting are kept (and the counts marked
 * incomplete): until it has certainly seen its link fail (its next share timed out), let go of
 * its streams, and their pages had time to reconnect to another replica and be counted there.
 */
export const keptForMs = (timing: CountsTiming): number =>
  SHARE_INTERVAL_MS + timing.commandTimeoutMs + LET_GO_MS + END_GRACE_MS + reconnectMs(timing)

/**
 * Writes this replica's counts stamped with Redis's own clock (so no two hosts' clocks are
 * compared), drops the fields of replicas gone longer than ARGV[3] ms, and returns Redis's time
 * with every field. KEYS: the counts hash. ARGV: this replica's field, its counts' JSON, the
 * age after which a field goes, '1' when this is the replica's goodbye.
 */
const SHARE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local closed = ''
if ARGV[4] == '1' then closed = ',"closed":true' end
redis.call('HSET', KEYS[1], ARGV[1], '{"at":' .. now .. closed .. ',"counts":' .. ARGV[2] .. '}')
local all = redis.call('HGETALL', KEYS[1])
local kept = {}
for i = 1, #all, 2 do
  local ok, value = pcall(cjson.decode, all[i + 1])
  if ok and type(value) == 'table' and tonumber(value.at) and now - tonumber(value.at) > tonumber(ARGV[3]) then
    redis.call('HDEL', KEYS[1], all[i])
  else
    table.insert(kept, all[i])
    table.insert(kept, all[i + 1])
  end
end
return {tostring(now), kept}`

type Counts = Record<string, Record<string, number>>
type Sum = Map<string, Map<string, number>>

/**
 * Open pages by app and version over every replica, for `/status`, the status page, `prune` and
 * `wait-drained`: every `SHARE_INTERVAL_MS` each replica writes its own counts (bounded like the
 * metrics) into one hash, and sums everyone's. Counts that cannot be had are never taken as zero:
 * a replica that stopped reporting keeps its last counts and makes every app's counts incomplete
 * (`incomplete(app)` says why) for `keptForMs`; a replica that shut down said goodbye, and its
 * last counts stay (complete) while its pages reconnect elsewhere. While this replica cannot read
 * the hash, it counts its own pages and calls them incomplete. What is not such a count (another
 * program's field, a name that breaks its field rule) is skipped.
 */
export function shareStreamCounts(
  redis: RedisClient,
  { counts: countsKey }: RedisKeys,
  local: StreamCounts,
  timing: CountsTiming,
  onFailure: (error: Error) => void,
): SharedCounts & { isolated(): string | undefined } {
  // Readable in a reason ("replica web-1/42/9f3a stopped reporting"), unique across restarts.
  const field = `${hostname()}/${process.pid}/${randomBytes(2).toString('hex')}`
  const dropAfter = keptForMs(timing)
  let combined: Sum | undefined
  let incomplete: string | undefined = "this replica has not read the other replicas' counts yet"
  let last: Counts = {}
  let closed = false
  /** When this replica's counts last reached Redis (monotonic ms), and why they did not since. */
  let sharedAt = performance.now()
  let failure = ''

  const mine = (): Counts => {
    const counts: Counts = {}
    for (const app of local.apps()) counts[app] = boundedVersions(local.versions(app))
    return counts
  }

  async function share(counts: Counts, goodbye: boolean): Promise<void> {
    const [now, fields] = (await redis.eval(
      SHARE,
      1,
      countsKey,
      field,
      JSON.stringify(counts),
      dropAfter,
      goodbye ? '1' : '0',
    )) as [string, string[]]
    last = counts
    sharedAt = performance.now()
    failure = ''
    const sum: Sum = new Map()
    let silent: { replica: string; ms: number } | undefined
    for (let i = 0; i + 1 < fields.length; i += 2) {
      const entry = readEntry(fields[i + 1]!)
      if (!entry) continue
      const age = Number(now) - entry.at
      if (entry.closed ? age > reconnectMs(timing) : age > dropAfter) continue
      addCounts(sum, entry.counts)
      if (!entry.closed && age > SHARE_TTL_MS && (!silent || age > silent.ms)) silent = { replica: fields[i]!, ms: age }
    }
    combined = sum
    incomplete = silent && `replica ${silent.replica} stopped reporting ${Math.round(silent.ms / 1000)} s ago`
  }

  const tick = () => {
    if (closed) return
    share(mine(), false).catch((error: Error) => {
      combined = undefined
      failure = error.message
      incomplete = `this replica cannot read the other replicas' counts from Redis (${error.message})`
      onFailure(error)
    })
  }
  tick()
  const timer = setInterval(tick, SHARE_INTERVAL_MS).unref()

  return {
    apps: () => combined?.keys() ?? local.apps(),
    versions: (app) => (combined ? (combined.get(app) ?? new Map<string, number>()) : local.versions(app)),
    excess: (app) => local.excess?.(app) ?? 0,
    incomplete: () => incomplete,
    /**
     * Cut off: the counts have not reached Redis for a share and a command timeout, so the
     * others are about to see them stop. The app then lets go of its streams within `LET_GO_MS`,
     * which `keptForMs` counts on.
     */
    isolated() {
      const since = performance.now() - sharedAt
      if (closed || since <= SHARE_INTERVAL_MS + timing.commandTimeoutMs) return undefined
      return `this replica's page counts have not reached Redis for ${Math.round(since / 1000)} s (${failure || 'no answer'})`
    },
    async close() {
      closed = true
      clearInterval(timer)
      // The streams have just been ended: the last counts shared stay counted while their
      // pages reconnect to other replicas, instead of vanishing before they are counted there.
      await share(mostOf(last, mine()), true).catch(() => undefined) // the replicas keep it as stale instead
    },
  }
}

/** A field of the hash, or undefined when it is not one a replica wrote. */
function readEntry(text: string): { at: number; closed: boolean; counts: unknown } | undefined {
  try {
    const value = JSON.parse(text) as { at?: unknown; closed?: unknown; counts?: unknown }
    return Number.isSafeInteger(value.at)
      ? { at: value.at as number, closed: value.closed === true, counts: value.counts }
      : undefined
  } catch {
    return undefined
  }
}

/** Per app and version, the larger of two counts (Maps: an app may be called "__proto__"). */
function mostOf(a: Counts, b: Counts): Counts {
  const result = new Map<string, Map<string, number>>()
  for (const counts of [a, b]) {
    for (const [app, versions] of Object.entries(counts)) {
      const merged = result.get(app) ?? new Map<string, number>()
      for (const [version, n] of Object.entries(versions)) merged.set(version, Math.max(merged.get(version) ?? 0, n))
      result.set(app, merged)
    }
  }
  return Object.fromEntries([...result].map(([app, versions]) => [app, Object.fromEntries(versions)]))
}

/** Adds one replica's counts to the sum; anything but `{ app: { version: count } }` is skipped. */
function addCounts(sum: Sum, counts: unknown): void {
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
