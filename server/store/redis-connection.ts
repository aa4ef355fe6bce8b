import { createConnection } from 'node:net'
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls'
import { AbstractConnector, Cluster, Redis, type RedisOptions } from 'ioredis'
import type { Config, HostPort } from '../config.js'
import { CLUSTER_SLOT, redisKeys, type RedisKeys } from './redis-keys.js'

/** The settings that say where Redis is and how to reach it. */
export type RedisSettings = Pick<
  Config,
  'redisUrl' | 'redisTlsCa' | 'redisSentinels' | 'redisSentinelName' | 'redisClusterNodes' | 'redisCommandTimeoutMs'
>

export type RedisClient = Redis | Cluster

/** The master that Sentinels follow when `REDIS_SENTINEL_NAME` is not set (Sentinel's own example name). */
export const DEFAULT_SENTINEL_NAME = 'mymaster'

/**
 * The two connections the Redis store works through, made for the mode the settings name: a
 * plain or TLS server, the master that Sentinels name, or a Cluster. Everything mode-specific
 * is here; `redis.ts` only stores, publishes and listens.
 */
export interface RedisConnection {
  /** Where Redis is, without passwords, for logs. */
  readonly where: string
  /** What a TLS certificate must chain to, for the line that refuses one. */
  readonly trust: string
  /** Runs the store's commands. */
  readonly command: RedisClient
  /**
   * Hears the deploys: a plain connection in every mode, which emits `ready` after every
   * (re)connection, and whose `status` says whether it is connected. In a Cluster it follows
   * the master of the one slot every key lives in.
   */
  readonly subscriber: Redis
  /** After a write: whether to wait for a replica to have it, so a failover keeps what was acknowledged. */
  readonly replicated: boolean
  /**
   * Subscribes to the deploys' channel (SSUBSCRIBE in a Cluster whose servers have sharded
   * pub/sub, else SUBSCRIBE) and answers the keys and scripts to use, which publish alike.
   * Again after each reconnection: ioredis subscribes again by itself, but not to a channel
   * whose confirmation the previous connection lost, and a re-read must follow the confirmation.
   */
  subscribe(): Promise<RedisKeys>
  /** Calls `listener` with every message on the channel. */
  onMessage(listener: (message: string) => void): void
}

/**
 * No offline queue: while Redis is away a notify fails at once (503) instead of waiting.
 * ioredis reconnects by itself, backing off to one attempt every 2 s. Every command is answered
 * within the timeout or fails (Redis hung, a black-holed link); commands in flight when the
 * connection drops fail, and none is sent again on the next one.
 */
const commandOptions = (commandTimeout: number) =>
  ({
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    retryStrategy: (times: number) => Math.min(times * 200, 2000),
    commandTimeout,
  }) satisfies RedisOptions

/** The subscriber may queue its SUBSCRIBE until it is connected. */
const subscriberOptions = (commandTimeout: number) =>
  ({
    ...commandOptions(commandTimeout),
    enableOfflineQueue: true,
    autoResendUnfulfilledCommands: true,
    connectionName: `deploy-notify-subscriber-${process.pid}`,
  }) satisfies RedisOptions

/**
 * Sharded pub/sub (Redis 7) keeps a Cluster's messages within the shard that holds the slot,
 * instead of sending every message to every node; older servers get the classic channel.
 */
const MIN_SHARDED_VERSION = 7

export function openRedisConnection(settings: RedisSettings): RedisConnection {
  const url = settings.redisUrl === undefined ? undefined : new URL(settings.redisUrl)
  const data = dataNodeOptions(url, settings.redisTlsCa?.pem)
  const trust = settings.redisTlsCa
    ? `REDIS_TLS_CA (${settings.redisTlsCa.path})`
    : "the system's CAs (set REDIS_TLS_CA for a private CA)"
  return { ...connect(settings, url, data), trust }
}

function connect(settings: RedisSettings, url: URL | undefined, data: RedisOptions): Omit<RedisConnection, 'trust'> {
  const commands = commandOptions(settings.redisCommandTimeoutMs)
  const listens = subscriberOptions(settings.redisCommandTimeoutMs)
  if (settings.redisSentinels) {
    const name = settings.redisSentinelName ?? DEFAULT_SENTINEL_NAME
    const sentinel: RedisOptions = {
      ...data,
      sentinels: settings.redisSentinels,
      name,
      // TLS to the data nodes; the Sentinels themselves are asked in the clear.
      enableTLSForSentinelMode: data.tls !== undefined,
      // Sentinel announces a promotion on +switch-master: leave a master that was demoted
      // (partitioned away, then back as a replica) at once, not when a write is refused.
      failoverDetector: true,
      // A write refused by a master demoted under us: reconnect, which asks the Sentinels again.
      reconnectOnError: (error) => error.message.startsWith('READONLY'),
    }
    return single(
      `master "${name}" of the Sentinels ${list(settings.redisSentinels)}`,
      new Redis({ ...sentinel, ...commands }),
      new Redis({ ...sentinel, ...listens }),
      true,
    )
  }
  if (settings.redisClusterNodes) return cluster(settings.redisClusterNodes, data, commands, listens)
  return single(redactedUrl(url!), new Redis({ ...data, ...commands }), new Redis({ ...data, ...listens }), false)
}

/** A server or the master Sentinel names: one connection for commands, one for the channel. */
function single(where: string, command: Redis, subscriber: Redis, replicated: boolean): Omit<RedisConnection, 'trust'> {
  const keys = redisKeys(false)
  return {
    where,
    command,
    subscriber,
    replicated,
    async subscribe() {
      // A SUBSCRIBE queued before the connection is ready goes out ahead of ioredis's own
      // start-up commands, which Redis then refuses in subscriber mode: the connection drops
      // and the replica is deaf until it is back.
      if (subscriber.status !== 'ready') await new Promise((resolve) => subscriber.once('ready', resolve))
      await subscriber.subscribe(keys.channel)
      return keys
    },
    onMessage: (listener) => subscriber.on('message', (_channel: string, message: string) => listener(message)),
  }
}

/**
 * A Cluster: every key in one slot (a hash tag), so the compare-and-set script may touch the
 * state, history and app set of an app in one step; the subscriber is a plain connection that
 * follows the slot's master. ioredis's own cluster subscribers move between nodes silently,
 * and a replica must know when it may have missed a message to re-read the state.
 */
function cluster(
  nodes: HostPort[],
  data: RedisOptions,
  commands: RedisOptions,
  listens: RedisOptions,
): Omit<RedisConnection, 'trust'> {
  const command = new Cluster(nodes, {
    redisOptions: { ...data, ...commands },
    enableOfflineQueue: false,
    clusterRetryStrategy: commands.retryStrategy,
  })
  const subscriber = new Redis({
    ...data,
    ...listens,
    // Connected by its first SSUBSCRIBE, once the cluster's map of slots is known.
    lazyConnect: true,
    Connector: slotOwnerConnector(command, nodes[0]!, data.tls),
  })
  let sharded: boolean | undefined
  return {
    where: `the Cluster of ${list(nodes)}`,
    command,
    subscriber,
    replicated: true,
    async subscribe() {
      sharded ??= majorVersion(await command.info('server')) >= MIN_SHARDED_VERSION
      const keys = redisKeys(true, sharded ? 'SPUBLISH' : 'PUBLISH')
      await (sharded ? subscriber.ssubscribe(keys.channel) : subscriber.subscribe(keys.channel))
      return keys
    },
    onMessage(listener) {
      subscriber.on('smessage', (_channel: string, message: string) => listener(message))
      subscriber.on('message', (_channel: string, message: string) => listener(message))
    },
  }
}

/**
 * Connects to whichever node is the master of `slot` now: the cluster's map of slots is
 * refreshed before each attempt, so a reconnection after a failover finds the promoted replica.
 */
function slotOwnerConnector(cluster: Cluster, first: HostPort, tls: ConnectionOptions | undefined) {
  return class SlotOwnerConnector extends AbstractConnector {
    constructor(options: unknown) {
      super((options as RedisOptions).disconnectTimeout ?? 2000)
    }

    async connect() {
      this.connecting = true
      await new Promise<void>((resolve) => cluster.refreshSlotsCache(() => resolve()))
      // Before the cluster was ever reached the map is empty: the first node will do, or fail.
      const owner = cluster.slots[CLUSTER_SLOT]?.[0]
      const at = owner?.lastIndexOf(':') ?? -1
      const address = owner ? { host: owner.slice(0, at), port: Number(owner.slice(at + 1)) } : first
      if (!this.connecting) throw new Error('Connection is closed.')
      const stream = tls ? tlsConnect({ ...address, ...tls }) : createConnection(address)
      stream.once('error', (error: Error) => {
        this.firstError = error
      })
      this.stream = stream
      return stream
    }
  }
}

/** Credentials, database and TLS from REDIS_URL (host and port too, when it names the server). */
function dataNodeOptions(url: URL | undefined, ca: string | undefined): RedisOptions {
  if (!url) return {}
  const options: RedisOptions = {
    host: url.hostname.replace(/^\[|\]$/g, '') || undefined,
    port: url.port ? Number(url.port) : undefined,
    username: url.username ? decodeURIComponent(url.username) : undefined,
    password: url.password ? decodeURIComponent(url.password) : undefined,
    db: /^\/\d+$/.test(url.pathname) ? Number(url.pathname.slice(1)) : undefined,
  }
  if (url.protocol === 'rediss:') options.tls = ca === undefined ? {} : { ca }
  return options
}

function majorVersion(info: string): number {
  return Number(/^redis_version:(\d+)/m.exec(info)?.[1] ?? 0)
}

const list = (nodes: HostPort[]) => nodes.map(({ host, port }) => `${host}:${port}`).join(',')

/** The URL without its password, for logs. */
export function redactedUrl(url: URL): string {
  const copy = new URL(url)
  if (copy.password) copy.password = '***'
  return copy.href
}

/**
 * Whether a connection failed because the server's certificate does not verify (an unknown CA,
 * a name or address it was not issued for, expired): retrying cannot help, unlike a refusal.
 */
export function isCertificateError(error: Error): boolean {
  const code = (error as NodeJS.ErrnoException).code ?? ''
  return /CERT|SIGNATURE|ISSUER|SELF_SIGNED|ALTNAME/.test(code)
}
