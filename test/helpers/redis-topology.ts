import { execFile } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { findExecutable } from './executable.js'
import { until } from './http.js'
import { RedisServer, type RedisServerOptions } from './redis.js'

const run = promisify(execFile)

/** The master name every Sentinel set here monitors: the sidecar's default. */
export const SENTINEL_NAME = 'mymaster'

/** How long Sentinel and Cluster wait before calling a silent node down: short, so tests fail over in seconds. */
const DOWN_AFTER_MS = 1000

/** `host:port,...` of servers, as REDIS_SENTINELS and REDIS_CLUSTER_NODES take them. */
export const addresses = (servers: RedisServer[]): string => servers.map((s) => `127.0.0.1:${s.port}`).join(',')

async function startAll(servers: RedisServer[]): Promise<void> {
  await Promise.all(servers.map((server) => server.start()))
}

/**
 * High availability as teams self-host it: one master, one replica and three Sentinels
 * (quorum 2), each its own redis-server on loopback, data nodes behind a password.
 */
export class SentinelSet {
  private constructor(
    readonly master: RedisServer,
    readonly replica: RedisServer,
    readonly sentinels: RedisServer[],
  ) {}

  static async start(password: string): Promise<SentinelSet> {
    const master = await RedisServer.create(undefined, { password })
    await master.start()
    const replica = await RedisServer.create(undefined, {
      password,
      args: ['--replicaof', '127.0.0.1', `${master.port}`],
    })
    const sentinels = await Promise.all(
      [1, 2, 3].map(() =>
        RedisServer.create(undefined, {
          sentinel: [
            `sentinel monitor ${SENTINEL_NAME} 127.0.0.1 ${master.port} 2`,
            `sentinel auth-pass ${SENTINEL_NAME} ${password}`,
            `sentinel down-after-milliseconds ${SENTINEL_NAME} ${DOWN_AFTER_MS}`,
            // A failed election is tried again after this, not after the default 3 minutes.
            `sentinel failover-timeout ${SENTINEL_NAME} 4000`,
          ],
        }),
      ),
    )
    const set = new SentinelSet(master, replica, sentinels)
    try {
      await startAll([replica, ...sentinels])
      // Ready once every Sentinel knows the replica and the other two (they meet through the master).
      await until(
        async () => {
          const views = await Promise.all(sentinels.map((s) => s.command('SENTINEL', 'MASTER', SENTINEL_NAME)))
          return views.every((view) => {
            const fields = fieldsOf(view)
            return fields['num-slaves'] === '1' && fields['num-other-sentinels'] === '2'
          })
        },
        'the Sentinels to know the replica and each other',
        15_000,
      )
      await until(
        async () => /master_link_status:up/.test(String(await replica.command('INFO', 'replication'))),
        'the replica to be in sync',
        10_000,
      )
    } catch (error) {
      await set.remove()
      throw error
    }
    return set
  }

  /** The port of the master the Sentinels name now. */
  async masterPort(): Promise<number> {
    for (const sentinel of this.sentinels.filter((s) => s.running)) {
      const answer = (await sentinel.command('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', SENTINEL_NAME)) as string[]
      return Number(answer[1])
    }
    throw new Error('no Sentinel is running')
  }

  async remove(): Promise<void> {
    await Promise.all([this.master, this.replica, ...this.sentinels].map((server) => server.remove()))
  }
}

/** A Redis Cluster as `redis-cli --cluster create` makes it: three masters, each with a replica. */
export class RedisCluster {
  private constructor(readonly nodes: RedisServer[]) {}

  static async start(): Promise<RedisCluster> {
    const cli = findExecutable('redis-cli', [process.env.REDIS_CLI, '/usr/bin/redis-cli'])
    if (!cli) throw new Error('redis-cli is required for a Redis Cluster (apt-get install redis-tools)')
    const options: RedisServerOptions = {
      args: ['--cluster-enabled', 'yes', '--cluster-node-timeout', `${DOWN_AFTER_MS}`],
    }
    const nodes = await Promise.all([1, 2, 3, 4, 5, 6].map(() => RedisServer.create(undefined, options)))
    const cluster = new RedisCluster(nodes)
    try {
      await startAll(nodes)
      const hosts = nodes.map((node) => `127.0.0.1:${node.port}`)
      await run(cli, ['--cluster', 'create', ...hosts, '--cluster-replicas', '1', '--cluster-yes'], {
        timeout: 20_000,
      })
      await cluster.settled()
    } catch (error) {
      await cluster.remove()
      throw error
    }
    return cluster
  }

  /**
   * Resolves once every node says the cluster is ok, they agree on the master of `slot`, and
   * every replica is in sync with its master (a replica that never synced cannot take over).
   */
  async settled(slot = 0, timeoutMs = 20_000): Promise<void> {
    await until(
      async () => {
        const states = await Promise.all(this.nodes.map((node) => node.command('CLUSTER', 'INFO')))
        if (!states.every((info) => /cluster_state:ok/.test(String(info)))) return false
        const owners = await Promise.all(this.nodes.map((node) => this.#ownerPort(node, slot)))
        if (!owners.every((port) => port === owners[0])) return false
        const replication = await Promise.all(this.nodes.map((node) => node.command('INFO', 'replication')))
        return replication.every((info) =>
          /role:master/.test(String(info))
            ? /connected_slaves:1/.test(String(info)) && /state=online/.test(String(info))
            : /master_link_status:up/.test(String(info)),
        )
      },
      'the cluster to be ok on every node, with every replica in sync',
      timeoutMs,
    )
  }

  /** The node that is the master of `slot` now. */
  async masterOf(slot: number): Promise<RedisServer> {
    const asked = this.nodes.find((node) => node.running)
    if (!asked) throw new Error('no cluster node is running')
    const port = await this.#ownerPort(asked, slot)
    const owner = this.nodes.find((node) => node.port === port)
    if (!owner) throw new Error(`no node of this cluster is on port ${port}`)
    return owner
  }

  async #ownerPort(node: RedisServer, slot: number): Promise<number | undefined> {
    const ranges = (await node.command('CLUSTER', 'SLOTS')) as [number, number, [string, number]][]
    return ranges.find(([from, to]) => from <= slot && slot <= to)?.[2][1]
  }

  async remove(): Promise<void> {
    await Promise.all(this.nodes.map((node) => node.remove()))
  }
}

/** A Sentinel's or INFO-like flat answer `[name, value, name, value...]` as an object. */
function fieldsOf(answer: unknown): Record<string, string> {
  const list = answer as string[]
  const fields: Record<string, string> = {}
  for (let i = 0; i + 1 < list.length; i += 2) fields[list[i]!] = list[i + 1]!
  return fields
}

/** Certificates the TLS tests make with openssl: a CA, a server's signed by it, and one signed by nobody. */
export interface TestCertificates {
  ca: string
  cert: string
  key: string
  untrustedCert: string
  untrustedKey: string
}

/** Makes them in `dir`, each for 127.0.0.1 (as an IP address in the subject alternative name). */
export async function makeCertificates(dir: string): Promise<TestCertificates> {
  const openssl = findExecutable('openssl', ['/usr/bin/openssl'])
  if (!openssl) throw new Error('openssl is required to make the TLS tests certificates (apt-get install openssl)')
  const at = (name: string) => join(dir, name)
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
  const san = at('san.ext')
  await writeFile(san, 'subjectAltName=IP:127.0.0.1\n')
  const ssl = (...args: string[]) => run(openssl, args, { timeout: 10_000 })
  await ssl(
    'req',
    '-x509',
    ...ec,
    '-keyout',
    at('ca.key'),
    '-out',
    at('ca.crt'),
    '-days',
    '2',
    '-subj',
    '/CN=deploy-notify test CA',
  )
  await ssl('req', ...ec, '-keyout', at('redis.key'), '-out', at('redis.csr'), '-subj', '/CN=127.0.0.1')
  await ssl(
    ...['x509', '-req', '-in', at('redis.csr'), '-CA', at('ca.crt'), '-CAkey', at('ca.key'), '-CAcreateserial'],
    ...['-out', at('redis.crt'), '-days', '2', '-extfile', san],
  )
  await ssl(
    ...['req', '-x509', ...ec, '-keyout', at('untrusted.key'), '-out', at('untrusted.crt'), '-days', '2'],
    ...['-subj', '/CN=untrusted', '-addext', 'subjectAltName=IP:127.0.0.1'],
  )
  return {
    ca: at('ca.crt'),
    cert: at('redis.crt'),
    key: at('redis.key'),
    untrustedCert: at('untrusted.crt'),
    untrustedKey: at('untrusted.key'),
  }
}

/** The arguments that make a server also listen with TLS on `port`, presenting `cert`. */
export const tlsArgs = (port: number, cert: string, key: string, ca: string): string[] => [
  ...['--tls-port', `${port}`, '--tls-cert-file', cert, '--tls-key-file', key],
  ...['--tls-ca-cert-file', ca, '--tls-auth-clients', 'no'],
]
