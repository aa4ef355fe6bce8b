// Prints the comparison table and the sidecar/baseline ratios against their targets.
const MB = 1024 * 1024
const ms = (x) => (Number.isFinite(x) ? x.toFixed(2) : '-')

export function printTable(results) {
  const rows = [
    ['streams (client processes)', (r) => `${r.streams} (${r.clientProcesses})`],
    ['connect all (s), retries', (r) => `${(r.connectMs / 1000).toFixed(1)}, ${r.retries}`],
    ['rss before -> after (MB)', (r) => `${(r.memBefore.rss / MB).toFixed(1)} -> ${(r.memAfter.rss / MB).toFixed(1)}`],
    ['memory/stream, rss (KB)', (r) => (r.rssPerStream / 1024).toFixed(2)],
    ['memory/stream, heap+external (KB)', (r) => (r.heapPerStream / 1024).toFixed(2)],
    ['1st broadcast p50 / p99 / max (ms)', (r) => `${ms(r.first.p50)} / ${ms(r.first.p99)} / ${ms(r.first.max)}`],
    ['1st broadcast CPU (ms)', (r) => ms(r.first.cpuMs)],
    ['rest: broadcasts x streams', (r) => (r.rest ? String(r.rest.n) : '-')],
    ['rest p50 (ms)', (r) => ms(r.rest?.p50)],
    ['rest p99 (ms)', (r) => ms(r.rest?.p99)],
    ['rest max (ms)', (r) => ms(r.rest?.max)],
    ['rest CPU/broadcast, median (ms)', (r) => ms(r.rest?.cpuMs)],
    ['missed deliveries', (r) => String(r.missed)],
    ['server warn/error log lines', (r) => String(r.logProblems)],
  ]
  const header = ['', ...results.map((r) => r.name)]
  const cells = [header, ...rows.map(([label, get]) => [label, ...results.map(get)])]
  const widths = header.map((_, c) => Math.max(...cells.map((row) => row[c].length)))
  for (const row of cells) {
    console.log(row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('   '))
  }
  for (const r of results) {
    const notes = [...r.badResponses, ...r.deliveredMismatch, ...r.logSamples]
    if (notes.length) console.log(`\n${r.name} notes:\n  ${notes.join('\n  ')}`)
    console.log(
      `\n${r.name} per broadcast p99 (ms): ${r.perBroadcast.map((b) => ms(b.p99)).join(' ')}` +
        `\n${r.name} per broadcast CPU (ms): ${r.perBroadcast.map((b) => ms(b.cpuMs)).join(' ')}`,
    )
  }
}

export function printRatios(baseline, sidecar) {
  const checks = [
    ['p99 delivery latency (rest)', sidecar.rest?.p99, baseline.rest?.p99, 1.1],
    ['memory per stream (rss)', sidecar.rssPerStream, baseline.rssPerStream, 1.2],
    ['CPU per broadcast (rest, median)', sidecar.rest?.cpuMs, baseline.rest?.cpuMs, 1.1],
  ]
  console.log('\nsidecar / baseline')
  let met = true
  for (const [label, s, b, target] of checks) {
    const ratio = s / b
    const ok = ratio <= target
    met &&= ok
    console.log(`  ${label.padEnd(34)} ${ratio.toFixed(2)}x   target <= ${target}x   ${ok ? 'met' : 'NOT met'}`)
  }
  const heapRatio = sidecar.heapPerStream / baseline.heapPerStream
  console.log(`  ${'memory per stream (heap+external)'.padEnd(34)} ${heapRatio.toFixed(2)}x   (informational)`)
  return met
}
