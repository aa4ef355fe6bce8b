// The restart storm: N streams on one sidecar, whose load clients reconnect as browsers
// running the client do (restart-client.js); SIGTERM the sidecar, start it again on the same
// port and data dir, and measure how the pages come back: the time until every stream is
// back, failed attempts, and the new sidecar's peak CPU while they return.
//   npm run bench -- --restart [--streams 10000] [--client hint,backoff] [--retry-ms 3000]
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { rmSync } from 'node:fs'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { now } from './clock.js'
import { call } from './ipc.js'
import { stop, track } from './children.js'
import { command } from './affinity.js'
import { notify } from './measure.js'
import { freePort, sidecarCli, startServer } from './server-process.js'
import { percentile, sorted } from './stats.js'
import { CPU_WINDOW_MS, POLICIES, printRestart } from './restart-report.js'

const clientScript = fileURLToPath(new URL('./restart-client.js', import.meta.url))

export async function benchRestart({ streams, policies, retryMs, perProcess, affinity }) {
  const unknown = policies.filter((p) => !(p in POLICIES))
  if (unknown.length > 0)
    throw new Error(`--client takes a comma-separated list of ${Object.keys(POLICIES).join(', ')}`)
  if (!Number.isInteger(streams) || streams < 1) throw new Error('--streams must be a positive integer')
  if (!Number.isInteger(retryMs) || retryMs < 100) throw new Error('--retry-ms must be an integer >= 100')
  console.log(
    `deploy-notify restart bench: ${streams} streams, RETRY_MS ${retryMs} (hint ${retryMs}-${Math.floor(retryMs * 1.5)} ms)\n` +
      (affinity
        ? `pinned: sidecar on CPU ${affinity.server}, load clients and driver on CPU ${affinity.clients}\n`
        : ''),
  )
  const results = []
  for (const policy of policies) {
    console.error(`restart: ${policy}...`)
    results.push(await restartOnce({ streams, policy, retryMs, perProcess, affinity }))
    await sleep(1000) // let the kernel tear down the previous run's sockets
  }
  printRestart(results)
  const ok = results.every((r) => r.notBack === 0)
  console.log(ok ? '\nevery stream came back' : '\nFAIL: some streams did not come back')
  return ok ? 0 : 1
}

async function restartOnce({ streams, policy, retryMs, perProcess, affinity }) {
  const dataDir = await mkdtemp(join(tmpdir(), 'deploy-notify-restart-'))
  const removeDataDir = () => rmSync(dataDir, { recursive: true, force: true })
  process.on('exit', removeDataDir)
  const token = randomBytes(16).toString('hex')
  const port = await freePort()
  const start = () =>
    startServer({
      script: sidecarCli,
      args: ['serve'],
      cpus: affinity?.server,
      env: {
        PORT: String(port),
        HOST: '127.0.0.1',
        DATA_DIR: dataDir,
        NOTIFY_TOKEN: token,
        RETRY_MS: String(retryMs),
        KEEPALIVE_MS: '600000', // no keepalive traffic during the run
        MAX_CONNECTIONS: String(streams + 1000),
        // Every load client connects from loopback: one address holds them all.
        MAX_STREAMS_PER_ADDRESS: String(streams + 1000),
      },
    })
  let server = await start()
  const clients = []
  try {
    // A known version, so every stream carries an id and reconnects with Last-Event-ID.
    const res = await notify(port, token, 'v1')
    if (res.status !== 202) throw new Error(`POST /notify answered ${res.status}: ${res.body.slice(0, 300)}`)

    const processes = Math.ceil(streams / perProcess)
    const counts = Array.from(
      { length: processes },
      (_, p) => Math.floor(streams / processes) + (p < streams % processes ? 1 : 0),
    )
    for (let p = 0; p < processes; p++) {
      const [file, argv] = command(affinity?.clients, [clientScript])
      clients.push(
        track(spawn(file, argv, { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })),
      )
    }
    const deadlineMs = 60000 + streams * 5
    // As in the broadcast bench: 200 connections being opened at once, in all.
    const concurrency = Math.max(1, Math.floor(200 / processes))
    const connected = await Promise.all(
      clients.map((c, p) =>
        call(c, { op: 'connect', port, count: counts[p], concurrency, deadlineMs, policy }, deadlineMs + 5000),
      ),
    )
    const open = connected.reduce((n, r) => n + r.connected, 0)
    if (open !== streams)
      throw new Error(`only ${open}/${streams} streams connected: ${connected.flatMap((r) => r.errors).join('; ')}`)
    await sleep(500)
    await Promise.all(clients.map((c) => call(c, { op: 'watch' }, 10000)))

    const stoppedAt = now()
    await stop(server.child, 15000)
    const exitedAt = now()
    server = await start()
    const listeningAt = now()
    const cpu = sampleCpu(server)
    const replies = await Promise.all(clients.map((c) => call(c, { op: 'back', deadlineMs: 120000 }, 130000)))
    const allBackAt = now()
    const samples = await cpu.stop()
    const back = sorted(replies.flatMap((r) => Array.from(r.back, (t) => t - stoppedAt)))
    const busy = samples.filter((s) => s.at <= allBackAt + CPU_WINDOW_MS)
    return {
      policy,
      streams,
      shutdownMs: exitedAt - stoppedAt,
      startMs: listeningAt - exitedAt,
      listeningMs: listeningAt - stoppedAt,
      first: back[0],
      p50: percentile(back, 50),
      p99: percentile(back, 99),
      last: back[back.length - 1],
      peakPerSecond: peakRate(back),
      failed: replies.reduce((n, r) => n + r.failed, 0),
      polling: replies.reduce((n, r) => n + r.polling, 0),
      notBack: replies.reduce((n, r) => n + r.notBack, 0),
      errors: replies.flatMap((r) => r.errors).slice(0, 5),
      peakCpu: Math.max(0, ...busy.map((s) => s.share)),
      cpuMs: busy.reduce((n, s) => n + s.cpuMs, 0),
    }
  } finally {
    await Promise.all(clients.map((c) => call(c, { op: 'close' }, 10000).catch(() => undefined)))
    await Promise.all(clients.map((c) => stop(c, 3000)))
    await server?.stop()
    process.off('exit', removeDataDir)
    removeDataDir()
  }
}

/** Reads the server's CPU every CPU_WINDOW_MS (through the probe) until stopped. */
function sampleCpu(server) {
  const samples = []
  let running = true
  const loop = (async () => {
    let last = { at: now(), cpu: (await server.usage()).cpu }
    while (running) {
      await sleep(CPU_WINDOW_MS)
      const cpu = (await server.usage()).cpu
      const at = now()
      const cpuMs = (cpu.user - last.cpu.user + cpu.system - last.cpu.system) / 1000
      samples.push({ at, cpuMs, share: cpuMs / (at - last.at) })
      last = { at, cpu }
    }
  })()
  return {
    stop: async () => {
      running = false
      await loop
      return samples
    },
  }
}

/** The most streams that came back within any one second. */
function peakRate(times) {
  let peak = 0
  for (let lo = 0, hi = 0; hi < times.length; hi++) {
    while (times[hi] - times[lo] > 1000) lo++
    peak = Math.max(peak, hi - lo + 1)
  }
  return peak
}
