// The measurement protocol for one server; both servers go through exactly this.
import http from 'node:http'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { startServer } from './server-process.js'
import { startClients } from './client-pool.js'
import { median, sorted, summarize } from './stats.js'

const now = () => performance.timeOrigin + performance.now() // wall clock comparable across processes

export async function measure(target, opts) {
  const dataDir = await mkdtemp(join(tmpdir(), 'deploy-notify-bench-'))
  let server = null
  let pool = null
  try {
    server = await startServer({
      script: target.script,
      args: target.args,
      env: {
        PORT: '0',
        HOST: '127.0.0.1',
        DATA_DIR: dataDir,
        NOTIFY_TOKEN: opts.token,
        KEEPALIVE_MS: '600000', // no keepalive traffic during the run
        MAX_CONNECTIONS: String(opts.streams + 1000),
      },
    })
    // Warm-up: let lazily initialised code paths (routing, stream setup) run once, so their
    // one-off allocations are not charged to the per-stream memory figure.
    await warmUp(server.port, 20)
    await sleep(300)
    const memBefore = (await server.usage(true)).mem

    pool = await startClients({
      port: server.port,
      streams: opts.streams,
      perProcess: opts.perProcess,
      concurrency: opts.concurrency,
      deadlineMs: 60000 + opts.streams * 5,
    })
    if (pool.connected !== opts.streams) {
      throw new Error(
        `${target.name}: only ${pool.connected}/${opts.streams} streams connected ` +
          `(${pool.retries} retries): ${pool.errors.join('; ')}`,
      )
    }
    await sleep(500)
    const memAfter = (await server.usage(true)).mem

    const broadcasts = []
    const tag = `bench-${Date.now().toString(36)}`
    for (let i = 0; i < opts.broadcasts; i++) {
      broadcasts.push(await broadcastOnce(server, pool, `${tag}-${i + 1}`, opts))
      await sleep(opts.gapMs)
    }

    const rest = broadcasts.slice(1)
    const n = opts.streams
    return {
      name: target.name,
      streams: n,
      clientProcesses: pool.processes,
      connectMs: pool.connectMs,
      retries: pool.retries,
      memBefore,
      memAfter,
      rssPerStream: (memAfter.rss - memBefore.rss) / n,
      heapPerStream: (memAfter.heapUsed + memAfter.external - memBefore.heapUsed - memBefore.external) / n,
      first: { ...summarize(broadcasts[0].latencies), cpuMs: broadcasts[0].cpuMs },
      rest: rest.length
        ? {
            ...summarize(sorted(rest.flatMap((b) => Array.from(b.latencies)))),
            cpuMs: median(rest.map((b) => b.cpuMs)),
          }
        : null,
      missed: broadcasts.reduce((sum, b) => sum + b.missed, 0),
      badResponses: broadcasts.filter((b) => b.status !== 202).map((b) => `${b.version}: ${b.status} ${b.body}`),
      deliveredMismatch: broadcasts
        .filter((b) => typeof b.delivered === 'number' && b.delivered !== n)
        .map((b) => `${b.version}: delivered=${b.delivered}`),
      perBroadcast: broadcasts.map((b) => ({ p99: summarize(b.latencies).p99, cpuMs: b.cpuMs, missed: b.missed })),
      logProblems: server.log.problems,
      logSamples: server.log.problemSamples,
    }
  } finally {
    await pool?.close()
    await server?.stop()
    await rm(dataDir, { recursive: true, force: true })
  }
}

async function broadcastOnce(server, pool, version, opts) {
  await pool.expect(`"version":"${version}"`)
  const before = (await server.usage()).cpu
  const sentAt = now()
  const [response, received] = await Promise.all([
    notify(server.port, opts.token, version),
    pool.collect(opts.deliveryTimeoutMs),
  ])
  // Read after every stream got the event AND the POST was answered: the whole broadcast.
  const after = (await server.usage()).cpu
  const latencies = sorted(received.times.flatMap((t) => Array.from(t, (x) => x - sentAt)))
  let delivered
  try {
    delivered = JSON.parse(response.body).delivered
  } catch {
    delivered = undefined
  }
  return {
    version,
    latencies,
    missed: received.missed,
    cpuMs: (after.user - before.user + after.system - before.system) / 1000,
    status: response.status,
    body: response.body.slice(0, 200),
    delivered,
  }
}

// One persistent connection for notifications, the same for both servers.
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })

function notify(port, token, version) {
  const body = JSON.stringify({ version, app: 'bench' })
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/notify',
        agent,
        timeout: 30000,
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
        },
      },
      (res) => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (c) => (text += c))
        res.on('end', () => resolve({ status: res.statusCode, body: text }))
        res.on('error', reject)
      },
    )
    req.on('timeout', () => req.destroy(new Error('POST /notify timed out')))
    req.on('error', reject)
    req.end(body)
  })
}

// Opens a few streams, waits for their response head, and closes them.
async function warmUp(port, count) {
  await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise((resolve, reject) => {
          const req = http.get(
            { host: '127.0.0.1', port, path: '/events?app=bench&version=v0', agent: false, timeout: 5000 },
            (res) => {
              res.resume()
              res.destroy()
              resolve()
            },
          )
          req.on('timeout', () => req.destroy(new Error('warm-up stream timed out')))
          req.on('error', reject)
        }),
    ),
  )
}
