// `npm run bench`: honest broadcast benchmark, sidecar vs a plain node:http baseline.
//   node bench/broadcast.js [--streams 10000] [--broadcasts 20] [--only sidecar|baseline]
//     [--per-process 5000] [--concurrency 200] [--gap 100] [--timeout 30000]
// Each server runs in its own process with the same probe, faces the same load clients, and
// is measured the same way (see measure.js). Exits non-zero if any stream missed an event.
import { existsSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { measure } from './measure.js'
import { printRatios, printTable } from './report.js'
import { killAll } from './children.js'

const { values } = parseArgs({
  options: {
    streams: { type: 'string', default: '10000' },
    broadcasts: { type: 'string', default: '20' },
    only: { type: 'string' },
    'per-process': { type: 'string', default: '5000' },
    concurrency: { type: 'string', default: '200' },
    gap: { type: 'string', default: '100' },
    timeout: { type: 'string', default: '30000' },
  },
})

const int = (name, min) => {
  const n = Number(values[name])
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}`)
  return n
}
const opts = {
  streams: int('streams', 1),
  broadcasts: int('broadcasts', 1),
  perProcess: int('per-process', 1),
  concurrency: int('concurrency', 1),
  gapMs: int('gap', 0),
  deliveryTimeoutMs: int('timeout', 1),
  token: randomBytes(16).toString('hex'),
}
if (opts.perProcess > 15000) throw new Error('--per-process above 15000 risks the 20,000 open-file limit')

const sidecarCli = fileURLToPath(new URL('../dist/server/cli.js', import.meta.url))
const targets = [
  { name: 'baseline', script: fileURLToPath(new URL('./baseline-server.js', import.meta.url)), args: [] },
  { name: 'sidecar', script: sidecarCli, args: ['serve'] },
].filter((t) => !values.only || t.name === values.only)
if (targets.length === 0) throw new Error('--only must be sidecar or baseline')
if (targets.some((t) => t.name === 'sidecar') && !existsSync(sidecarCli)) {
  throw new Error(`${sidecarCli} is missing: run npm run build (or npm run bench)`)
}

let exitCode = 1
try {
  console.log(
    `deploy-notify broadcast bench: ${opts.streams} streams, ${opts.broadcasts} broadcasts ` +
      `(the first after connecting is reported separately), delivery wait ${opts.deliveryTimeoutMs} ms\n`,
  )
  const results = []
  for (const target of targets) {
    console.error(`running ${target.name}...`)
    results.push(await measure(target, opts))
  }
  printTable(results)
  const missed = results.reduce((n, r) => n + r.missed, 0)
  const baseline = results.find((r) => r.name === 'baseline')
  const sidecar = results.find((r) => r.name === 'sidecar')
  if (baseline && sidecar) printRatios(baseline, sidecar)
  console.log(
    missed === 0
      ? '\nevery stream received every event'
      : `\nFAIL: ${missed} deliveries missed (${results.map((r) => `${r.name} ${r.missed}`).join(', ')})`,
  )
  exitCode = missed === 0 ? 0 : 1
} catch (err) {
  console.error(`bench failed: ${err.stack ?? err}`)
} finally {
  killAll()
  // Exit explicitly: the keep-alive notify agent must not hold the process open.
  process.exit(exitCode)
}
