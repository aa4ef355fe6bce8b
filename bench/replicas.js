// `npm run bench:replicas`: fan-out through Redis. One replica with N streams, then R replicas
// with N streams each (clients spread evenly), all on one Redis; one notify to the first
// replica per broadcast; the delivery latency to every stream of every replica.
//   node bench/replicas.js [--replicas 3] [--streams 10000] [--broadcasts 10]
// Target: every stream receives every event, and p99 with R replicas within 2x one replica's.
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { createServer, connect } from 'node:net'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { killAll, stop, track } from './children.js'
import { startClients } from './client-pool.js'
import { notify } from './measure.js'
import { startServer } from './server-process.js'
import { sorted, summarize } from './stats.js'

const { values } = parseArgs({
  options: {
    replicas: { type: 'string', default: '3' },
    streams: { type: 'string', default: '10000' },
    broadcasts: { type: 'string', default: '10' },
  },
})
const replicas = Number(values.replicas)
const streams = Number(values.streams)
const broadcasts = Number(values.broadcasts)
const token = randomBytes(16).toString('hex')
const sidecarCli = fileURLToPath(new URL('../dist/server/cli.js', import.meta.url))
const now = () => performance.timeOrigin + performance.now()

const freePort = () =>
  new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })

async function startRedis() {
  const port = await freePort()
  const child = track(spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' }))
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

/** R replicas with `streams` each; `broadcasts` notifies to the first; all latencies. */
async function run(redisUrl, count) {
  const servers = []
  const pools = []
  try {
    for (let i = 0; i < count; i++) {
      servers.push(
        await startServer({
          script: sidecarCli,
          args: ['serve'],
          env: { PORT: '0', HOST: '127.0.0.1', REDIS_URL: redisUrl, NOTIFY_TOKEN: token, KEEPALIVE_MS: '600000', MAX_CONNECTIONS: String(streams + 1000) },
        }),
      )
    }
    for (const server of servers) {
      pools.push(await startClients({ port: server.port, streams, perProcess: 5000, concurrency: 200, deadlineMs: 60000 + streams * 5 }))
    }
    const latencies = []
    let missed = 0
    for (let b = 0; b < broadcasts; b++) {
      const version = `r${count}-${Date.now().toString(36)}-${b}`
      await Promise.all(pools.map((pool) => pool.expect(`"version":"${version}"`)))
      const sentAt = now()
      const [answer, ...received] = await Promise.all([notify(servers[0].port, token, version), ...pools.map((pool) => pool.collect(30000))])
      if (answer.status !== 202) throw new Error(`notify answered ${answer.status}: ${answer.body}`)
      // The first broadcast after connecting is warm-up, as in the main benchmark.
      if (b > 0) for (const r of received) for (const t of r.times) for (const x of t) latencies.push(x - sentAt)
      missed += received.reduce((n, r) => n + r.missed, 0)
      await sleep(200)
    }
    return { ...summarize(sorted(latencies)), missed }
  } finally {
    for (const pool of pools) await pool.close()
    for (const server of servers) await server.stop()
  }
}

let exitCode = 1
try {
  const redis = await startRedis()
  console.log(`deploy-notify replicas bench: ${streams} streams per replica, ${broadcasts} broadcasts (the first not counted), Redis at ${redis.url}\n`)
  const one = await run(redis.url, 1)
  const many = await run(redis.url, replicas)
  const row = (name, r) => console.log(`${name.padEnd(28)} p50 ${r.p50.toFixed(1)} ms   p99 ${r.p99.toFixed(1)} ms   max ${r.max.toFixed(1)} ms   deliveries ${r.n}   missed ${r.missed}`)
  row(`1 replica x ${streams}`, one)
  row(`${replicas} replicas x ${streams}`, many)
  const ratio = many.p99 / one.p99
  console.log(`\np99 ratio ${ratio.toFixed(2)}x   target <= 2x   ${ratio <= 2 ? 'met' : 'NOT met'}`)
  console.log(one.missed + many.missed === 0 ? 'every stream received every event' : `FAIL: ${one.missed + many.missed} deliveries missed`)
  exitCode = one.missed + many.missed === 0 ? 0 : 1
  await stop(redis.child)
} catch (error) {
  console.error(`bench failed: ${error.stack ?? error}`)
} finally {
  killAll()
  process.exit(exitCode)
}
