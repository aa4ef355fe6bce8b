import { readFileSync } from 'node:fs'
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
  redisUrl: string | undefined
  /** How long a Redis command may take before the link counts as hung (503, streams let go). */
  redisCommandTimeoutMs: number
  maxConnections: number
  /** How long a client has to send its request, from connecting or from its first byte. */
  requestTimeoutMs: number
  /** How long a stream stays open at most; 0 = until the client leaves. */
  streamLifetimeMs: number
}

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

/** The process's open-file limit: each stream holds one descriptor. */
function openFileLimit(): number {
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
    help: ['URL', 'redis:// or rediss:// URL: replicas share state and deploys through Redis (default unset)'],
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
  MAX_CONNECTIONS: {
    parse: integer(1, 10_000_000),
    fallback: () => defaultMaxConnections(),
    key: 'maxConnections',
    help: ['N', 'open streams beyond this get 503 (default 90% of the open-file limit)'],
  },
  // A request head is one packet; a notify body is at most 16 KiB. Ten seconds is plenty for both.
  REQUEST_TIMEOUT_MS: {
    parse: integer(1000, 3_600_000),
    fallback: () => 10_000,
    key: 'requestTimeoutMs',
    help: ['N', 'a request (not a stream) must be complete within this (default 10000)'],
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
  for (const name of settingNames) {
    const setting = settings[name]
    const raw = flags[name] ?? env[name]
    const label = flags[name] === undefined ? name : `--${flagName(name)}`
    config[setting.key] = raw === undefined || raw === '' ? setting.fallback() : setting.parse(raw, label)
  }
  // Without it each replica would generate a token of its own into its DATA_DIR (notify-token.ts).
  if (config.redisUrl !== undefined && config.notifyToken === undefined) {
    throw new ConfigError('REDIS_URL needs NOTIFY_TOKEN: replicas behind one URL must share one token')
  }
  return config as unknown as Config
}
