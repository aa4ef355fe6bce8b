// Fan-out through Redis. One replica with N streams, then R replicas with N streams each
// (clients spread evenly), all on one Redis; one notify to the first replica per broadcast;
// the delivery latency to every stream of every replica.
//   npm run bench -- --replicas 3 [--streams 30000]   (--streams is the total over the replicas)
//   npm run bench:replicas -- [--replicas 3] [--streams 10000] [--broadcasts 10]   (per replica)
//   npm run bench:replicas -- --redis-sentinels 10.0.0.5:26379,10.0.0.6:26379 [--redis-sentinel-name mymaster]
//     [--redis-url redis://:PASSWORD@mymaster] [--redis-tls-ca FILE]   (or --redis-cluster-nodes LIST):
//     the replicas use that Redis, as the sidecar's settings of the same names say, instead of one started here
// Target: every stream receives every event, and p99 with R replicas within 2x one replica's.
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { connect } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { now } from './clock.js'
import { killAll, stop, track } from './children.js'
import { startClients } from './client-pool.js'
import { notify } from './measure.js'
import { freePort, sidecarCli, startServer } from './server-process.js'
import { sorted, summarize } from './stats.js'

/** Streams one replica may hold here: 90 % of a 20,000 open-file limit, with room to spare. */
export const MAX_STREAMS_PER_REPLICA = 15000

const token = randomBytes(16).toString('hex')

/** The sidecar's Redis settings, which the bench passes on to its replicas (flags in kebab case). */
const REDIS_SETTINGS = ['REDIS_URL', 'REDIS_TLS_CA', 'REDIS_SENTINELS', 'REDIS_SENTINEL_NAME', 'REDIS_CLUSTER_NODES']
const flagOf = (name) => name.toLowerCase().replaceAll('_', '-')

async function startRedis() {
  const port = await freePort()
  const child = track(
    spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
      stdio: 'ignore',
    }),
  )
  child.once('error', (error) => console.error(`cannot start redis-server (is it installed?): ${error.message}`))
  for (let i = 0; i < 200; i++) {
    const up = await new Promise((resolve) => {
      const socket = connect(port, '127.0.0.1', () => socket.write('PING\r\n'))
      socket.once('data', (d) => (socket.destroy(), resolve(String(d).startsWith('+PONG'))))
      socket.once('error', () => resolve(false))
    })
    if (up) return { child, url: `redis://127.0.0.1:${port}` }
    await sleep(25)
  }
  throw new Error('redis-server did not start')
}

/**
 * `count` replicas with `streams` each; `broadcasts` notifies to the first; all latencies, and
 * the p99 of each replica's own streams (the first takes the notify, the others only hear it
 * through Redis).
 */
async function run(redisEnv, count, streams, broadcasts) {
  const servers = []
  const pools = []
  try {
    for (let i = 0; i < count; i++) {
      servers.push(
        await startServer({
          script: sidecarCli,
          args: ['serve'],
          env: {
            PORT: '0',
            HOST: '127.0.0.1',
            ...redisEnv,
            NOTIFY_TOKEN: token,
            KEEPALIVE_MS: '600000',
            MAX_CONNECTIONS: String(streams + 1000),
            // Every load client connects from loopback: one address holds them all.
            MAX_STREAMS_PER_ADDRESS: String(streams + 1000),
          },
        }),
      )
    }
    for (const server of servers) {
      const pool = await startClients({
        port: server.port,
        streams,
        perProcess: 5000,
        concurrency: 200,
        deadlineMs: 60000 + streams * 5,
      })
      pools.push(pool)
      if (pool.connected !== streams) {
        throw new Error(
          `only ${pool.connected}/${streams} streams connected (${pool.retries} retries): ${pool.errors.join('; ')}`,
        )
      }
    }
    const latencies = []
    const perReplica = servers.map(() => [])
    // The fastest stream of each broadcast: the notify and, with replicas, the hop through
    // Redis, before the fan-out's CPU cost (which three replicas on a small machine share) counts.
    const firsts = []
    let missed = 0
    for (let b = 0; b < broadcasts; b++) {
      const version = `r${count}-${Date.now().toString(36)}-${b}`
      await Promise.all(pools.map((pool) => pool.expect(`"version":"${version}"`)))
      const sentAt = now()
      const [answer, ...received] = await Promise.all([
        notify(servers[0].port, token, version),
        ...pools.map((pool) => pool.collect(30000)),
      ])
      if (answer.status !== 202) throw new Error(`notify answered ${answer.status}: ${answer.body}`)
      // The first broadcast after connecting is warm-up, as in the main benchmark.
      if (b > 0) {
        firsts.push(Math.min(...received.flatMap((result) => result.times.map((times) => Math.min(...times)))) - sentAt)
        for (const [r, result] of received.entries()) {
          for (const times of result.times) {
            for (const t of times) {
              latencies.push(t - sentAt)
              perReplica[r].push(t - sentAt)
            }
          }
        }
      }
      missed += received.reduce((n, r) => n + r.missed, 0)
      await sleep(200)
    }
    return {
      ...summarize(sorted(latencies)),
      missed,
      p99ByReplica: perReplica.map((list) => summarize(sorted(list)).p99),
      firstStream: summarize(sorted(firsts)).p50,
    }
  } finally {
    for (const pool of pools) await pool.close()
    for (const server of servers) await server.stop()
  }
}

/** The whole comparison; resolves to the exit code (0: every stream received every event). */
export async function benchReplicas({ replicas, streams, broadcasts, redisEnv }) {
  if (!Number.isInteger(replicas) || replicas < 2) throw new Error('--replicas must be an integer >= 2')
  if (!Number.isInteger(streams) || streams < 1) throw new Error('streams per replica must be an integer >= 1')
  if (!Number.isInteger(broadcasts) || broadcasts < 2)
    throw new Error('--broadcasts must be an integer >= 2 (the first is warm-up)')
  if (streams > MAX_STREAMS_PER_REPLICA) {
    throw new Error(
      `${streams} streams per replica is above ${MAX_STREAMS_PER_REPLICA}: a replica may hold about 18,000 (the open-file limit)`,
    )
  }
  let redis = null
  try {
    if (!redisEnv || Object.keys(redisEnv).length === 0) {
      redis = await startRedis()
      redisEnv = { REDIS_URL: redis.url }
    }
    const where = Object.entries(redisEnv)
      .map(([name, value]) => `${name}=${value.replace(/:[^:@/]*@/, ':***@')}`)
      .join(' ')
    console.log(
      `deploy-notify replicas bench: ${replicas} replicas x ${streams} streams (${replicas * streams} in all) against 1 x ${streams}, ` +
        `${broadcasts} broadcasts each (the first not counted), Redis: ${where}\n`,
    )
    console.error('1 replica...')
    const one = await run(redisEnv, 1, streams, broadcasts)
    await sleep(1000) // let the kernel tear down the previous run's sockets
    console.error(`${replicas} replicas...`)
    const many = await run(redisEnv, replicas, streams, broadcasts)
    const row = (name, r) =>
      console.log(
        `${name.padEnd(24)} p50 ${r.p50.toFixed(1)} ms   p99 ${r.p99.toFixed(1)} ms   max ${r.max.toFixed(1)} ms   ` +
          `first stream ${r.firstStream.toFixed(1)} ms   deliveries ${r.n}   missed ${r.missed}`,
      )
    row(`1 replica x ${streams}`, one)
    row(`${replicas} replicas x ${streams}`, many)
    console.log(
      `  p99 per replica (the first takes the notify): ${many.p99ByReplica.map((x) => `${x.toFixed(1)} ms`).join(', ')}`,
    )
    const ratio = many.p99 / one.p99
    const met = ratio <= 2
    console.log(`\np99 ratio ${ratio.toFixed(2)}x   target <= 2x   ${met ? 'met' : 'NOT met'}`)
    const missed = one.missed + many.missed
    console.log(missed === 0 ? 'every stream received every event' : `FAIL: ${missed} deliveries missed`)
    // As in the main benchmark: a missed delivery fails the run; the target is reported.
    return missed === 0 ? 0 : 1
  } finally {
    if (redis) await stop(redis.child)
  }
}

// Run directly (`npm run bench:replicas`): --streams is per replica.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  let exitCode = 1
  try {
    const { values } = parseArgs({
      options: {
        replicas: { type: 'string', default: '3' },
        streams: { type: 'string', default: '10000' },
        broadcasts: { type: 'string', default: '10' },
        ...Object.fromEntries(REDIS_SETTINGS.map((name) => [flagOf(name), { type: 'string' }])),
      },
    })
    exitCode = await benchReplicas({
      replicas: Number(values.replicas),
      streams: Number(values.streams),
      broadcasts: Number(values.broadcasts),
      redisEnv: Object.fromEntries(
        REDIS_SETTINGS.filter((name) => values[flagOf(name)] !== undefined).map((name) => [name, values[flagOf(name)]]),
      ),
    })
  } catch (error) {
    console.error(`bench failed: ${error.stack ?? error}`)
  } finally {
    killAll()
    process.exit(exitCode)
  }
}
