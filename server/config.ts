import { readFileSync } from 'node:fs'
import { isIP } from 'node:net'
import createError from '@fastify/error'

/** Everything the sidecar is configured with, read once at start and passed down. */
export interface Config {
  port: number
  host: string
  notifyToken: string | undefined
  /** `'*'` or the exact origins allowed to subscribe. */
  corsOrigins: '*' | string[]
  keepaliveMs: number
  retryMs: number
  dataDir: string
  /** A plain or TLS Redis; with Sentinels or Cluster nodes, only its credentials and TLS are used. */
  redisUrl: string | undefined
  /** How long a Redis command may take before the link counts as hung (503, streams let go). */
  redisCommandTimeoutMs: number
  /** A CA that `rediss://` certificates must chain to, instead of the system's. */
  redisTlsCa: CaFile | undefined
  redisSentinels: HostPort[] | undefined
  /** The master Sentinel names; only with `redisSentinels` (default `mymaster`). */
  redisSentinelName: string | undefined
  redisClusterNodes: HostPort[] | undefined
  maxConnections: number
  /** Open `/events` streams from one client address at most. */
  maxStreamsPerAddress: number
  /** Fastify's `trustProxy`: which proxies' `X-Forwarded-For` names the client address. */
  trustProxy: TrustProxy
  /** How long a client has to send its request, from connecting or from its first byte. */
  requestTimeoutMs: number
  /** How long a stream stays open at most; 0 = until the client leaves. */
  streamLifetimeMs: number
}

export interface HostPort {
  host: string
  port: number
}

export interface CaFile {
  path: string
  pem: string
}

/** `false` (no proxy is trusted), a hop count, or addresses, CIDR ranges and proxy-addr's names (`loopback`). */
export type TrustProxy = false | number | string[]

/** A setting the sidecar cannot run with; the message names it. The CLI exits 2. */
export const ConfigError = createError('DN_ERR_CONFIG', '%s')

type Parse<T> = (raw: string, name: string) => T

const integer =
  (min: number, max: number): Parse<number> =>
  (raw, name) => {
    if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
      throw new ConfigError(`${name} must be an integer from ${min} to ${max}, got "${raw}"`)
    }
    return Number(raw)
  }

const text: Parse<string> = (raw, name) => {
  if (raw.trim() === '') throw new ConfigError(`${name} must not be empty`)
  return raw
}

const token: Parse<string> = (raw, name) => {
  // A short token is guessable, and whitespace usually means a copy-paste accident.
  if (raw.length < 16 || /\s/.test(raw)) {
    throw new ConfigError(`${name} must be at least 16 characters without whitespace`)
  }
  return raw
}

const origins: Parse<'*' | string[]> = (raw, name) => {
  if (raw.trim() === '*') return '*'
  const list = raw
    .split(',')
    .map((origin) => origin.trim())
    .filter(Boolean)
  for (const origin of list) {
    let url: URL
    try {
      url = new URL(origin)
    } catch {
      throw new ConfigError(`${name}: "${origin}" is not an origin such as https://app.example.com`)
    }
    if (url.origin !== origin) {
      throw new ConfigError(`${name}: "${origin}" is not an origin; did you mean "${url.origin}"?`)
    }
  }
  if (list.length === 0) throw new ConfigError(`${name} must be * or a comma-separated list of origins`)
  return list
}

const redisUrl: Parse<string> = (raw, name) => {
  if (!/^rediss?:\/\//.test(raw)) throw new ConfigError(`${name} must start with redis:// or rediss://`)
  return raw
}

/** `host:port[,host:port…]`; an IPv6 address in brackets (`[::1]:26379`). */
const hostPorts: Parse<HostPort[]> = (raw, name) =>
  raw.split(',').map((item) => {
    const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^\s:[\]]+)):(\d{1,5})$/.exec(item.trim())
    const port = Number(match?.[3])
    if (!match || port < 1 || port > 65535) {
      throw new ConfigError(`${name} must be host:port[,host:port…], got "${item.trim()}"`)
    }
    return { host: (match[1] ?? match[2])!, port }
  })

const caFile: Parse<CaFile> = (raw, name) => {
  let pem: string
  try {
    pem = readFileSync(raw, 'utf8')
  } catch (error) {
    throw new ConfigError(`${name}: cannot read "${raw}" (${(error as NodeJS.ErrnoException).code ?? String(error)})`)
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
    throw new ConfigError(`${name}: "${raw}" holds no PEM certificate (-----BEGIN CERTIFICATE-----)`)
  }
  return { path: raw, pem }
}

/** The process's open-file limit: each stream holds one descriptor. */
export function openFileLimit(): number {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'))
    const soft = Number(line?.split(/\s+/)[3])
    if (Number.isFinite(soft) && soft > 0) return soft
  } catch {
    // Not Linux: fall through to a conservative guess.
  }
  return 1024
}

/** Leaves a tenth of the descriptors for notifies, the store, logs and Redis. */
export function defaultMaxConnections(limit = openFileLimit()): number {
  return Math.max(1, Math.floor(limit * 0.9))
}

/**
 * Half the stream slots: one address (an office behind one NAT, a few hundred browsers at the
 * default open-file limit) never locks out everyone else, and a second one is always admitted.
 */
export function defaultMaxStreamsPerAddress(maxConnections: number): number {
  return Math.max(1, Math.ceil(maxConnections / 2))
}

/** The names proxy-addr (Fastify's `trustProxy`) knows for address ranges. */
const RANGE_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal'])

const trustProxy: Parse<TrustProxy> = (raw, name) => {
  if (raw.trim() === 'false') return false
  if (/^\d+$/.test(raw.trim())) return integer(1, 100)(raw.trim(), name)
  const list = raw
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean)
  for (const entry of list) {
    const [address = '', bits, extra] = entry.split('/')
    const family = isIP(address)
    const validBits = bits === undefined || (/^\d+$/.test(bits) && Number(bits) <= (family === 6 ? 128 : 32))
    if (RANGE_NAMES.has(entry) || (family !== 0 && validBits && extra === undefined)) continue
    throw new ConfigError(
      `${name}: "${entry}" is not false, a hop count, an address, a CIDR range (10.0.0.0/8) or loopback, linklocal, uniquelocal`,
    )
  }
  if (list.length === 0) throw new ConfigError(`${name} must be false, a hop count, or addresses and CIDR ranges`)
  return list
}

/** 0 (never), or a duration from `min` ms. */
const durationOrNever =
  (min: number, max: number): Parse<number> =>
  (raw, name) => {
    if (raw === '0') return 0
    if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
      throw new ConfigError(`${name} must be 0 (never) or an integer from ${min} to ${max}, got "${raw}"`)
    }
    return Number(raw)
  }

/**
 * Each setting by its environment name; the CLI flag is the same name in kebab case. `help`
 * is what `deploy-notify serve --help` says of it, so the help cannot leave a setting out.
 */
const settings = {
  PORT: {
    parse: integer(0, 65535),
    fallback: () => 8080,
    key: 'port',
    help: ['N', 'listen port; 0 = any free port (default 8080)'],
  },
  HOST: { parse: text, fallback: () => '0.0.0.0', key: 'host', help: ['ADDRESS', 'listen address (default 0.0.0.0)'] },
  NOTIFY_TOKEN: {
    parse: token,
    fallback: () => undefined,
    key: 'notifyToken',
    help: [
      'TOKEN',
      'bearer token for POST /notify, at least 16 characters (default unset: a token generated into DATA_DIR/notify-token, which "deploy-notify notify" on this host reads; prefer the variable)',
    ],
  },
  CORS_ORIGINS: {
    parse: origins,
    fallback: () => '*' as const,
    key: 'corsOrigins',
    help: ['LIST', 'comma-separated origins allowed to subscribe (default *)'],
  },
  KEEPALIVE_MS: {
    parse: integer(1000, 3_600_000),
    fallback: () => 15_000,
    key: 'keepaliveMs',
    help: ['N', 'interval of keepalive comments on every stream, 1000 or more (default 15000)'],
  },
  RETRY_MS: {
    parse: integer(100, 3_600_000),
    fallback: () => 3000,
    key: 'retryMs',
    help: ['N', 'reconnection delay hinted to browsers (default 3000)'],
  },
  DATA_DIR: {
    parse: text,
    fallback: () => './data',
    key: 'dataDir',
    help: ['DIR', 'where the current version per app is kept, without Redis (default ./data)'],
  },
  REDIS_URL: {
    parse: redisUrl,
    fallback: () => undefined,
    key: 'redisUrl',
    help: [
      'URL',
      'redis:// or rediss:// (TLS) URL: replicas share state and deploys through Redis; with Sentinels or Cluster nodes only its credentials and TLS are used (default unset)',
    ],
  },
  // Redis answers in a millisecond; seconds without an answer is a hung server or a dead link.
  REDIS_COMMAND_TIMEOUT_MS: {
    parse: integer(200, 60_000),
    fallback: () => 3000,
    key: 'redisCommandTimeoutMs',
    help: [
      'N',
      'with Redis: a command unanswered this long means Redis or the link is hung: /healthz and notify answer 503 (default 3000)',
    ],
  },
  REDIS_TLS_CA: {
    parse: caFile,
    fallback: () => undefined,
    key: 'redisTlsCa',
    help: ['FILE', "a PEM file of the CA the rediss:// certificate must chain to (default: the system's CAs)"],
  },
  REDIS_SENTINELS: {
    parse: hostPorts,
    fallback: () => undefined,
    key: 'redisSentinels',
    help: ['LIST', 'host:port,... of Redis Sentinels: follow the master they name (default unset)'],
  },
  REDIS_SENTINEL_NAME: {
    parse: text,
    fallback: () => undefined,
    key: 'redisSentinelName',
    help: ['NAME', 'the name of that master, with --redis-sentinels (default mymaster)'],
  },
  REDIS_CLUSTER_NODES: {
    parse: hostPorts,
    fallback: () => undefined,
    key: 'redisClusterNodes',
    help: ['LIST', 'host:port,... of some nodes of a Redis Cluster (default unset)'],
  },
  MAX_CONNECTIONS: {
    parse: integer(1, 10_000_000),
    fallback: () => defaultMaxConnections(),
    key: 'maxConnections',
    help: ['N', 'open streams beyond this get 503 (default 90% of the open-file limit)'],
  },
  // Its default depends on MAX_CONNECTIONS: see loadConfig.
  MAX_STREAMS_PER_ADDRESS: {
    parse: integer(1, 10_000_000),
    fallback: () => undefined,
    key: 'maxStreamsPerAddress',
    help: ['N', 'open streams from one client address beyond this get 503 (default half of --max-connections)'],
  },
  // nginx on the same host (the repo's nginx.conf) forwards each browser's address.
  TRUST_PROXY: {
    parse: trustProxy,
    fallback: () => ['loopback'],
    key: 'trustProxy',
    help: [
      'LIST',
      'proxies whose X-Forwarded-For names the client address: false, a hop count, or addresses and CIDR ranges (default loopback)',
    ],
  },
  // A request head is one packet; a notify body is at most 16 KiB. Ten seconds is plenty for both.
  REQUEST_TIMEOUT_MS: {
    parse: integer(1000, 3_600_000),
    fallback: () => 10_000,
    key: 'requestTimeoutMs',
    help: [
      'N',
      'a request (not a stream) must be complete within this; an idle connection is closed after 5 s, and by this at the latest (default 10000)',
    ],
  },
  // Mercure's write_timeout: bounds what a stalled reader holds over time; browsers reconnect.
  STREAM_LIFETIME_MS: {
    parse: durationOrNever(1000, 31 * 86_400_000),
    fallback: () => 600_000,
    key: 'streamLifetimeMs',
    help: ['N', 'a stream is closed after this long, and the browser reconnects; 0 = never (default 600000)'],
  },
} as const satisfies Record<
  string,
  { parse: Parse<unknown>; fallback: () => unknown; key: keyof Config; help: readonly [string, string] }
>

export type SettingName = keyof typeof settings

export const settingNames = Object.keys(settings) as SettingName[]

/** `KEEPALIVE_MS` -> `keepalive-ms`. */
export const flagName = (name: SettingName): string => name.toLowerCase().replaceAll('_', '-')

/** Each setting as `serve --help` lists it: its flag, the placeholder of its value, and what it does. */
export const settingHelp = (): { flag: string; value: string; text: string }[] =>
  settingNames.map((name) => ({ flag: flagName(name), value: settings[name].help[0], text: settings[name].help[1] }))

/**
 * Builds the config from the environment, with flags (keyed by environment name) taking
 * precedence. Throws a ConfigError that names the setting on the first bad value.
 */
export function loadConfig(
  env: Record<string, string | undefined>,
  flags: Partial<Record<SettingName, string>> = {},
): Config {
  const config: Record<string, unknown> = {}
  const given = new Set<SettingName>()
  const label = (name: SettingName) => (flags[name] === undefined ? name : `--${flagName(name)}`)
  for (const name of settingNames) {
    const setting = settings[name]
    const raw = flags[name] ?? env[name]
    if (raw !== undefined && raw !== '') given.add(name)
    config[setting.key] = given.has(name) ? setting.parse(raw!, label(name)) : setting.fallback()
  }
  config.maxStreamsPerAddress ??= defaultMaxStreamsPerAddress(config.maxConnections as number)
  checkRedisMode(config as unknown as Config, given, label)
  return config as unknown as Config
}

/**
 * One Redis mode at most: a URL alone, Sentinels, or Cluster nodes (a URL beside either gives
 * the data nodes' credentials and TLS). A setting that means something only in a mode (a CA
 * without TLS, a master name without Sentinels) is refused rather than ignored.
 */
function checkRedisMode(config: Config, given: Set<SettingName>, label: (name: SettingName) => string): void {
  if (given.has('REDIS_SENTINELS') && given.has('REDIS_CLUSTER_NODES')) {
    throw new ConfigError(
      `${label('REDIS_SENTINELS')} and ${label('REDIS_CLUSTER_NODES')} are two Redis modes; set one of them`,
    )
  }
  if (given.has('REDIS_SENTINEL_NAME') && !given.has('REDIS_SENTINELS')) {
    throw new ConfigError(`${label('REDIS_SENTINEL_NAME')} needs REDIS_SENTINELS`)
  }
  if (given.has('REDIS_TLS_CA') && !config.redisUrl?.startsWith('rediss://')) {
    throw new ConfigError(`${label('REDIS_TLS_CA')} needs TLS: a REDIS_URL that starts with rediss://`)
  }
  // Without it each replica would generate a token of its own into its DATA_DIR (notify-token.ts).
  const mode = (['REDIS_URL', 'REDIS_SENTINELS', 'REDIS_CLUSTER_NODES'] as const).find((name) => given.has(name))
  if (mode && config.notifyToken === undefined) {
    throw new ConfigError(`${label(mode)} needs NOTIFY_TOKEN: replicas behind one URL must share one token`)
  }
}

/** Whether replicas share a Redis, in any of its modes. */
export const usesRedis = (config: Pick<Config, 'redisUrl' | 'redisSentinels' | 'redisClusterNodes'>): boolean =>
  config.redisUrl !== undefined || config.redisSentinels !== undefined || config.redisClusterNodes !== undefined
