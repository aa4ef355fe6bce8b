// The measurement protocol for one server; every server goes through exactly this.
import http from 'node:http'
import { rmSync } from 'node:fs'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import WebSocket from 'ws'
import { now } from './clock.js'
import { startServer } from './server-process.js'
import { startClients } from './client-pool.js'
import { sorted } from './stats.js'
import { delta, readCounters } from './kernel-counters.js'

export async function measure(target, opts) {
  const dataDir = await mkdtemp(join(tmpdir(), 'deploy-notify-bench-'))
  // Removed however the driver ends, Ctrl-C included.
  const removeDataDir = () => rmSync(dataDir, { recursive: true, force: true })
  process.on('exit', removeDataDir)
  let server = null
  let pool = null
  try {
    server = await startServer({
      script: target.script,
      args: target.args,
      cpus: opts.affinity?.server,
      env: {
        PORT: '0',
        HOST: '127.0.0.1',
        DATA_DIR: dataDir,
        NOTIFY_TOKEN: opts.token,
        KEEPALIVE_MS: '600000', // no keepalive traffic during the run
        MAX_CONNECTIONS: String(opts.streams + 1000),
        // Every load client connects from loopback: one address holds them all.
        MAX_STREAMS_PER_ADDRESS: String(opts.streams + 1000),
      },
    })
    // Warm-up: let lazily initialised code paths (routing, stream setup) run once, so their
    // one-off allocations are not charged to the per-stream memory figure.
    await warmUp(server.port, 20, target.protocol)
    await sleep(300)
    const memBefore = (await server.usage(true)).mem

    pool = await startClients({
      port: server.port,
      streams: opts.streams,
      perProcess: opts.perProcess,
      concurrency: opts.concurrency,
      deadlineMs: 60000 + opts.streams * 5,
      cpus: opts.affinity?.clients,
      protocol: target.protocol,
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

    // Raw figures of this run; summarize.js turns runs into the reported numbers.
    return {
      name: target.name,
      streams: opts.streams,
      clientProcesses: pool.processes,
      connectMs: pool.connectMs,
      retries: pool.retries,
      memBefore,
      memAfter,
      broadcasts,
      logProblems: server.log.problems,
      logSamples: server.log.problemSamples,
    }
  } finally {
    await pool?.close()
    await server?.stop()
    process.off('exit', removeDataDir)
    removeDataDir()
  }
}

async function broadcastOnce(server, pool, version, opts) {
  await pool.expect(`"version":"${version}"`)
  const before = (await server.usage()).cpu
  const kernelBefore = readCounters()
  const driverBefore = process.cpuUsage()
  const sentAt = now()
  const [response, received] = await Promise.all([
    notify(server.port, opts.token, version).then((res) => {
      // A refused notify would only make every broadcast wait out its timeout: stop here.
      if (res.status !== 202) throw new Error(`POST /notify answered ${res.status}: ${res.body.slice(0, 300)}`)
      return res
    }),
    pool.collect(opts.deliveryTimeoutMs),
  ])
  // Read after every stream got the event AND the POST was answered: the whole broadcast.
  const after = (await server.usage()).cpu
  const kernel = delta(kernelBefore, readCounters())
  const driver = process.cpuUsage(driverBefore)
  const latencies = sorted(received.times.flatMap((t) => Array.from(t, (x) => x - sentAt)))
  let delivered
  try {
    delivered = JSON.parse(response.body).delivered
  } catch {
    delivered = undefined
  }
  const cpuMs = (after.user - before.user + after.system - before.system) / 1000
  if (kernel) {
    // CPU that none of the benchmark's processes used (10 ms resolution): other work.
    kernel.otherMs = kernel.busyMs - cpuMs - received.clientCpuMs - (driver.user + driver.system) / 1000
  }
  return {
    version,
    latencies,
    missed: received.missed,
    cpuMs,
    clientCpuMs: received.clientCpuMs,
    kernel,
    delivered,
  }
}

// One persistent connection for notifications, the same for every server.
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })

export function notify(port, token, version) {
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

// Opens a few streams, waits for their response head (or the upgrade), and closes them.
async function warmUp(port, count, protocol) {
  if (protocol === 'ws') {
    await Promise.all(
      Array.from(
        { length: count },
        () =>
          new Promise((resolve, reject) => {
            const ws = new WebSocket(`ws://127.0.0.1:${port}/events?app=bench&version=v0`, { perMessageDeflate: false })
            ws.on('open', () => (ws.terminate(), resolve()))
            ws.on('error', reject)
          }),
      ),
    )
    return
  }
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
