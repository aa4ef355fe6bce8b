// `npm run bench`: honest broadcast benchmark, the sidecar against two baselines doing the
// same job: plain node:http SSE, and koa + WebSocket. See HELP for the flags.
// Each server runs in its own process with the same probe, faces the same load clients, and
// is measured the same way (see measure.js). Rounds alternate the servers, so a drift of the
// machine's state hits all of them; per-round figures show how noisy the numbers are.
// Exits non-zero if any stream missed an event.
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { measure } from './measure.js'
import { sidecarCli } from './server-process.js'
import { summarizeRuns } from './summarize.js'
import { printRatios, printTable } from './report.js'
import { killAll } from './children.js'
import { planAffinity } from './affinity.js'
import { machineBusy } from './kernel-counters.js'
import { benchReplicas } from './replicas.js'
import { benchRestart } from './restart.js'
import { HELP } from './usage.js'

const { values } = parseArgs({
  options: {
    streams: { type: 'string' },
    broadcasts: { type: 'string' },
    replicas: { type: 'string' },
    rounds: { type: 'string', default: '3' },
    only: { type: 'string' },
    'per-process': { type: 'string', default: '5000' },
    concurrency: { type: 'string', default: '200' },
    gap: { type: 'string', default: '100' },
    timeout: { type: 'string', default: '30000' },
    pin: { type: 'string', default: 'auto' },
    restart: { type: 'boolean', default: false },
    client: { type: 'string', default: 'hint,backoff' },
    'retry-ms': { type: 'string', default: '3000' },
    help: { type: 'boolean', short: 'h', default: false },
  },
})

if (values.help) {
  console.log(HELP)
  process.exit(0)
}

if (values.replicas !== undefined) {
  let code = 1
  try {
    const replicas = Number(values.replicas)
    const total = Number(values.streams ?? replicas * 10000)
    if (!Number.isInteger(total) || total % replicas !== 0)
      throw new Error(`--streams (${values.streams}) must be a multiple of --replicas (${values.replicas})`)
    code = await benchReplicas({ replicas, streams: total / replicas, broadcasts: Number(values.broadcasts ?? 10) })
  } catch (err) {
    console.error(`bench failed: ${err.stack ?? err}`)
  } finally {
    killAll()
    process.exit(code)
  }
}
if (values.restart) {
  let code = 1
  try {
    code = await benchRestart({
      streams: Number(values.streams ?? 10000),
      policies: values.client.split(','),
      retryMs: Number(values['retry-ms']),
      perProcess: Number(values['per-process']),
      affinity: planAffinity(values.pin),
    })
  } catch (err) {
    console.error(`bench failed: ${err.stack ?? err}`)
  } finally {
    killAll()
    process.exit(code)
  }
}
values.streams ??= '10000'
values.broadcasts ??= '20'

const int = (name, min) => {
  const n = Number(values[name])
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}`)
  return n
}
const opts = {
  streams: int('streams', 1),
  broadcasts: int('broadcasts', 1),
  rounds: int('rounds', 1),
  perProcess: int('per-process', 1),
  concurrency: int('concurrency', 1),
  gapMs: int('gap', 0),
  deliveryTimeoutMs: int('timeout', 1),
  token: randomBytes(16).toString('hex'),
}
if (!['auto', 'on', 'off'].includes(values.pin)) throw new Error('--pin must be auto, on or off')
opts.affinity = planAffinity(values.pin)
if (opts.perProcess > 15000) throw new Error('--per-process above 15000 risks the 20,000 open-file limit')

const bench = (file) => fileURLToPath(new URL(file, import.meta.url))
const allTargets = [
  { id: 'baseline', name: 'node:http', script: bench('./baseline-server.js'), args: [], protocol: 'sse' },
  { id: 'koa-ws', name: 'koa+ws', script: bench('./koa-ws-server.js'), args: [], protocol: 'ws' },
  { id: 'sidecar', name: 'sidecar', script: sidecarCli, args: ['serve'], protocol: 'sse' },
]
const only = values.only?.split(',')
const unknown = only?.filter((id) => !allTargets.some((t) => t.id === id)) ?? []
if (unknown.length > 0 || only?.length === 0)
  throw new Error(`--only takes a comma-separated list of ${allTargets.map((t) => t.id).join(', ')}`)
const targets = allTargets.filter((t) => !only || only.includes(t.id))
if (targets.some((t) => t.name === 'sidecar') && !existsSync(sidecarCli)) {
  throw new Error(`${sidecarCli} is missing: run npm run build (or npm run bench)`)
}

// Newest modification time under dist/server: others may rebuild while the bench runs,
// and a run that straddles a rebuild measures two different sidecars.
const distDir = fileURLToPath(new URL('../dist/server/', import.meta.url))
const buildTime = () => {
  if (!existsSync(distDir)) return null
  const files = readdirSync(distDir, { recursive: true }).filter((f) => String(f).endsWith('.js'))
  return new Date(Math.max(...files.map((f) => statSync(join(distDir, String(f))).mtimeMs)))
}
const builtAtStart = targets.some((t) => t.name === 'sidecar') ? buildTime() : null

let exitCode = 1
try {
  console.log(
    `deploy-notify broadcast bench: ${opts.streams} streams, ${opts.broadcasts} broadcasts, ${opts.rounds} round(s) ` +
      `(the first after connecting is reported separately), delivery wait ${opts.deliveryTimeoutMs} ms\n` +
      (opts.affinity
        ? `pinned: server on CPU ${opts.affinity.server}, load clients and driver on CPU ${opts.affinity.clients}\n`
        : 'not pinned: server and load clients share all CPUs\n') +
      (builtAtStart ? `sidecar build: dist/server as of ${builtAtStart.toISOString()}\n` : ''),
  )
  const busy = await machineBusy()
  if (busy !== null && busy > 0.1) {
    console.log(
      `WARNING: ${(busy * 100).toFixed(0)}% of the CPUs were busy with other work just before the run; expect noisy latency.\n`,
    )
  }
  const runs = targets.map(() => [])
  for (let round = 1; round <= opts.rounds; round++) {
    for (const [t, target] of targets.entries()) {
      console.error(`round ${round}/${opts.rounds}: ${target.name}...`)
      runs[t].push(await measure(target, opts))
      // Let the kernel finish tearing down the previous run's thousands of sockets.
      await new Promise((resolve) => setTimeout(resolve, 1000))
    }
  }
  const results = runs.map(summarizeRuns)
  printTable(results)
  const missed = results.reduce((n, r) => n + r.missed, 0)
  if (targets.some((t) => t.protocol === 'ws')) {
    console.log(
      '\nWhat differs: koa+ws sends each deploy as one WebSocket text frame (a 2-4 byte header and\n' +
        'the JSON message), read by the `ws` package in the load clients; node:http and the sidecar\n' +
        'send an SSE frame (event:, id: and data: lines around the same JSON), read as raw bytes.\n' +
        "Same streams, payload, pinning and load-client processes; the clients' own CPU is shown above.",
    )
  }
  printRatios(results)
  console.log(
    missed === 0
      ? '\nevery stream received every event'
      : `\nFAIL: ${missed} deliveries missed (${results.map((r) => `${r.name} ${r.missed}`).join(', ')})`,
  )
  const builtAtEnd = builtAtStart ? buildTime() : null
  if (builtAtStart && builtAtEnd?.getTime() !== builtAtStart.getTime()) {
    console.log(
      `WARNING: dist/server was rebuilt during the run (${builtAtEnd?.toISOString()}); the sidecar figures may mix two builds.`,
    )
  }
  exitCode = missed === 0 ? 0 : 1
} catch (err) {
  console.error(`bench failed: ${err.stack ?? err}`)
} finally {
  killAll()
  // Exit explicitly: the keep-alive notify agent must not hold the process open.
  process.exit(exitCode)
}
