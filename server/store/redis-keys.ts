/** Where the Redis store keeps things, and the scripts that change them in one step. */

/**
 * In a Cluster every key and the channel carry this hash tag, so all of them live in one slot:
 * the compare-and-set script touches an app's state, its history and the set of apps in one
 * step, and a script may only touch keys (and shard channels) of one slot. One slot for every
 * app rather than one per app: the set of apps and the one channel are shared, and deploys are
 * few and small, so one shard carries them easily.
 */
const CLUSTER_PREFIX = '{deploy-notify}:'
/** The slot of `CLUSTER_PREFIX` (CRC16 of "deploy-notify", mod 16384), whose master the subscriber follows. */
export const CLUSTER_SLOT = 13813

/** Where the store keeps things in one Redis, and how it publishes there. */
export interface RedisKeys {
  /** Every change of every app is published here, as the deploy's JSON. */
  readonly channel: string
  /** The set of app names with a state. */
  readonly apps: string
  /**
   * Every replica's open pages, in one hash (one key, so no SCAN and one slot in a cluster):
   * field = the replica's id, value = `{"at": Redis time in ms, "counts": {app: {version: n}}}`,
   * plus `"closed": true` once the replica has shut down (`redis-counts.ts`).
   */
  readonly counts: string
  state(app: string): string
  history(app: string): string
  /** `COMPARE_AND_PUBLISH` and `RESTORE` below, publishing with the given command. */
  readonly compareAndPublish: string
  readonly restore: string
}

/**
 * The keys and scripts for a server (the names replicas have always used, so an upgrade finds
 * its state) or for a Cluster (hash-tagged, and published with SPUBLISH where the servers have
 * sharded pub/sub).
 */
export function redisKeys(cluster: boolean, publish: 'PUBLISH' | 'SPUBLISH' = 'PUBLISH'): RedisKeys {
  const prefix = cluster ? CLUSTER_PREFIX : 'deploy-notify:'
  return {
    channel: `${prefix}deploys`,
    apps: `${prefix}apps`,
    counts: `${prefix}counts`,
    state: (app) => `${prefix}state:${app}`,
    history: (app) => `${prefix}history:${app}`,
    compareAndPublish: COMPARE_AND_PUBLISH.replace("'PUBLISH'", `'${publish}'`),
    restore: RESTORE.replace("'PUBLISH'", `'${publish}'`),
  }
}

/**
 * Makes a deploy current only if the app's state is still the one it was decided against
 * (a compare-and-set), and publishes it in the same step, so two replicas taking the same
 * notify at the same moment store and broadcast it once. KEYS: state, history, apps.
 * ARGV: the state decided against ('' for none), the new deploy's JSON, the history length,
 * the app, the channel. With ARGV[6] = '1' the state decided against also leaves the history
 * (it is being renumbered, see `redis-mirror.ts`). ARGV[7], if not '', is a deadline in
 * Redis's own clock (ms): a script that runs later (Redis was hung, the link was frozen and
 * the replica has answered 503 since) changes nothing and returns -1. Returns 1 when stored.
 */
const COMPARE_AND_PUBLISH = `
if ARGV[7] and ARGV[7] ~= '' then
  local now = redis.call('TIME')
  if tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) > tonumber(ARGV[7]) then return -1 end
end
if (redis.call('GET', KEYS[1]) or '') ~= ARGV[1] then return 0 end
if ARGV[6] == '1' then redis.call('LREM', KEYS[2], 1, ARGV[1]) end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('LPUSH', KEYS[2], ARGV[2])
redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[3]) - 1)
redis.call('SADD', KEYS[3], ARGV[4])
redis.call('PUBLISH', ARGV[5], ARGV[2])
return 1`

/**
 * Puts a replica's copy of an app's state back after Redis lost it (a restart without
 * persistence, a FLUSHALL), unless Redis holds the same or a later id: so the next notify
 * counts on from it and ids never go backwards for a browser. KEYS: state, history, apps.
 * ARGV: the deploy's JSON, its id, the app, the channel, then the history's JSON, newest first.
 */
const RESTORE = `
local stored = redis.call('GET', KEYS[1])
if stored then
  local ok, deploy = pcall(cjson.decode, stored)
  if ok and type(deploy) == 'table' and tonumber(deploy.id) and tonumber(deploy.id) >= tonumber(ARGV[2]) then
    redis.call('SADD', KEYS[3], ARGV[3])
    return 0
  end
end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[2])
for i = 5, #ARGV do redis.call('RPUSH', KEYS[2], ARGV[i]) end
redis.call('SADD', KEYS[3], ARGV[3])
redis.call('PUBLISH', ARGV[4], ARGV[1])
return 1`
