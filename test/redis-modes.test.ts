import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { notify } from './helpers/http.js'
import { runCli } from './helpers/process.js'
import { RedisServer, skipWithoutRedis } from './helpers/redis.js'
import { makeCertificates, tlsArgs, type TestCertificates } from './helpers/redis-topology.js'
import { deploysOf, Replicas } from './helpers/replicas.js'
import { freePort } from './helpers/free-port.js'
import { TOKEN } from './helpers/sidecar.js'

// How the sidecar is told which Redis to use: one mode at a time, and TLS whose certificate is
// checked at start. Real redis-server with TLS, certificates made by openssl for the test.
const skip = skipWithoutRedis('test/redis-modes.test.ts')

const serve = (env: Record<string, string>) =>
  runCli(['serve'], { PORT: '0', HOST: '127.0.0.1', NOTIFY_TOKEN: TOKEN, DATA_DIR: '/nonexistent', ...env })

describe('the Redis mode settings', () => {
  it('refuses Sentinels and Cluster nodes together (exit 2), naming both', async () => {
    const exit = await serve({ REDIS_SENTINELS: '127.0.0.1:26379', REDIS_CLUSTER_NODES: '127.0.0.1:7000' })
    expect(exit.code).toBe(2)
    expect(exit.stderr).toBe(
      'deploy-notify: REDIS_SENTINELS and REDIS_CLUSTER_NODES are two Redis modes; set one of them\n',
    )
    // Flags are named as flags.
    const flags = await runCli(
      ['serve', '--redis-sentinels', '127.0.0.1:26379', '--redis-cluster-nodes', '127.0.0.1:7000'],
      { NOTIFY_TOKEN: TOKEN },
    )
    expect(flags.code).toBe(2)
    expect(flags.stderr).toMatch(/--redis-sentinels and --redis-cluster-nodes are two Redis modes/)
  })

  it('refuses settings that mean nothing in the mode given, and malformed ones (exit 2)', async () => {
    const cases: [Record<string, string>, string][] = [
      [
        { REDIS_SENTINEL_NAME: 'main', REDIS_URL: 'redis://127.0.0.1:6379' },
        'REDIS_SENTINEL_NAME needs REDIS_SENTINELS',
      ],
      [
        { REDIS_TLS_CA: '/etc/hostname', REDIS_URL: 'redis://127.0.0.1:6379' },
        'REDIS_TLS_CA: "/etc/hostname" holds no PEM certificate (-----BEGIN CERTIFICATE-----)',
      ],
      [{ REDIS_TLS_CA: '/no/such/ca.pem' }, 'REDIS_TLS_CA: cannot read "/no/such/ca.pem" (ENOENT)'],
      [{ REDIS_SENTINELS: '127.0.0.1' }, 'REDIS_SENTINELS must be host:port[,host:port…], got "127.0.0.1"'],
      [
        { REDIS_CLUSTER_NODES: '127.0.0.1:7000,:7001' },
        'REDIS_CLUSTER_NODES must be host:port[,host:port…], got ":7001"',
      ],
    ]
    for (const [env, message] of cases) {
      const exit = await serve(env)
      expect(exit.code, JSON.stringify(env)).toBe(2)
      expect(exit.stderr).toBe(`deploy-notify: ${message}\n`)
    }
  })
})

describe.skipIf(skip)('Redis over TLS', () => {
  let scratch: string
  let certificates: TestCertificates
  let trusted: RedisServer
  let untrusted: RedisServer
  let trustedPort: number
  let untrustedPort: number
  let replicas: Replicas

  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'deploy-notify-tls-'))
    certificates = await makeCertificates(scratch)
    const { ca, cert, key, untrustedCert, untrustedKey } = certificates
    ;[trustedPort, untrustedPort] = [await freePort(), await freePort()]
    // Each also listens in the clear on its own port, for the test's own commands.
    trusted = await RedisServer.create(undefined, { args: tlsArgs(trustedPort, cert, key, ca) })
    untrusted = await RedisServer.create(undefined, {
      args: tlsArgs(untrustedPort, untrustedCert, untrustedKey, untrustedCert),
    })
    await Promise.all([trusted.start(), untrusted.start()])
    replicas = new Replicas(scratch)
  })
  afterAll(async () => {
    await replicas?.stop()
    await Promise.all([trusted?.remove(), untrusted?.remove()])
    await rm(scratch, { recursive: true, force: true })
  })

  it('stores and delivers through rediss:// with the CA of REDIS_TLS_CA', async () => {
    const url = `rediss://127.0.0.1:${trustedPort}`
    const [a, b] = await Promise.all([
      replicas.start(url, { REDIS_TLS_CA: certificates.ca }),
      replicas.start(url, { REDIS_TLS_CA: certificates.ca }),
    ])
    const page = await replicas.open(b.url, 'tls')
    expect((await notify(a.url, { app: 'tls', version: 'v1' })).status).toBe(202)
    await page.next('deploy', 'v1')
    expect(deploysOf(page)).toEqual(['v1'])
    // Both replicas hold their two connections over TLS: the plain port has none of theirs.
    const clients = String(await trusted.command('CLIENT', 'LIST'))
    expect(clients.match(/name=deploy-notify-subscriber-/g)).toHaveLength(2)
    expect(JSON.parse(String(await trusted.command('GET', 'deploy-notify:state:tls')))).toMatchObject({ id: '1' })
  })

  it('refuses to start (exit 1, one line) when the certificate does not verify', async () => {
    const cases: [Record<string, string>, RegExp][] = [
      // Signed by a CA this host does not trust, and no REDIS_TLS_CA.
      [
        { REDIS_URL: `rediss://127.0.0.1:${trustedPort}` },
        new RegExp(
          `^deploy-notify: the certificate of Redis \\(rediss://127\\.0\\.0\\.1:${trustedPort}\\) does not verify ` +
            `against the system's CAs \\(set REDIS_TLS_CA for a private CA\\): .+\\n$`,
        ),
      ],
      // Signed by nobody, while REDIS_TLS_CA names the CA it should chain to.
      [
        { REDIS_URL: `rediss://:secret@127.0.0.1:${untrustedPort}`, REDIS_TLS_CA: certificates.ca },
        new RegExp(
          `^deploy-notify: the certificate of Redis \\(rediss://:\\*\\*\\*@127\\.0\\.0\\.1:${untrustedPort}\\) does not ` +
            `verify against REDIS_TLS_CA \\(${certificates.ca.replaceAll('.', '\\.')}\\): self-signed certificate\\n$`,
        ),
      ],
    ]
    for (const [env, line] of cases) {
      const exit = await serve(env)
      expect(exit.code, exit.stdout + exit.stderr).toBe(1)
      expect(exit.stderr).toMatch(line)
      expect(exit.stdout).not.toMatch(/listening on/)
    }
  })
})
