// Prints the comparison table and the sidecar/baseline ratios against their targets.
const MB = 1024 * 1024
const ms = (x) => (Number.isFinite(x) ? x.toFixed(2) : '-')
const list = (values, digits = 1) => values.map((x) => (Number.isFinite(x) ? x.toFixed(digits) : '-')).join(' ')

export function printTable(results) {
  const rows = [
    ['streams (client processes), rounds', (r) => `${r.streams} (${r.clientProcesses}), ${r.rounds}`],
    ['connect all (s), retries', (r) => `${(r.connectMs / 1000).toFixed(1)}, ${r.retries}`],
    ['rss before -> after (MB)', (r) => `${(r.rssBefore / MB).toFixed(1)} -> ${(r.rssAfter / MB).toFixed(1)}`],
    ['memory/stream, rss (KB)', (r) => (r.rssPerStream / 1024).toFixed(2)],
    ['memory/stream, heap+external (KB)', (r) => (r.heapPerStream / 1024).toFixed(2)],
    ['1st broadcast p50 / p99 / max (ms)', (r) => `${ms(r.first.p50)} / ${ms(r.first.p99)} / ${ms(r.first.max)}`],
    ['1st broadcast CPU (ms)', (r) => ms(r.first.cpuMs)],
    ['rest: deliveries measured', (r) => (r.rest ? String(r.rest.n) : '-')],
    ['rest time to 1st stream, median (ms)', (r) => ms(r.rest?.medianMin)],
    ['rest p50 (ms)', (r) => ms(r.rest?.p50)],
    ['rest p99 (ms)', (r) => ms(r.rest?.p99)],
    ['rest max (ms)', (r) => ms(r.rest?.max)],
    ['rest median of per-broadcast p99 (ms)', (r) => ms(r.rest?.medianP99)],
    ['rest CPU/broadcast, median (ms)', (r) => ms(r.rest?.cpuMs)],
    ["  load clients' CPU/broadcast (ms)", (r) => ms(r.rest?.clientCpuMs)],
    ['rest p99 per round (ms)', (r) => list(r.perRound.map((x) => x.p99))],
    ['rest CPU/broadcast per round (ms)', (r) => list(r.perRound.map((x) => x.cpuMs))],
    ['missed deliveries', (r) => String(r.missed)],
    [
      'loopback drops / TCP resends (broadcasts hit)',
      (r) =>
        r.kernel
          ? `${r.kernel.drops} / ${r.kernel.retransmits} (${r.kernel.broadcastsHit}/${r.kernel.broadcasts})`
          : 'unknown',
    ],
    [
      "other processes' CPU/broadcast, median (ms)",
      (r) =>
        r.kernel ? `${ms(r.kernel.otherMsMedian)} (>30 ms in ${r.kernel.disturbed}/${r.kernel.broadcasts})` : 'unknown',
    ],
    ['server warn/error log lines', (r) => String(r.logProblems)],
  ]
  const header = ['', ...results.map((r) => r.name)]
  const cells = [header, ...rows.map(([label, get]) => [label, ...results.map(get)])]
  const widths = header.map((_, c) => Math.max(...cells.map((row) => row[c].length)))
  for (const row of cells) {
    console.log(row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('   '))
  }
  for (const r of results) {
    const notes = [...r.deliveredMismatch, ...r.logSamples]
    if (notes.length) console.log(`\n${r.name} notes:\n  ${notes.join('\n  ')}`)
  }
}

// Targets of issue 10: the sidecar's p99 and CPU per broadcast at most 0.8x plain node:http's,
// and its memory per stream at most the koa + WebSocket server's, all in the same run.
export function printRatios(results) {
  const find = (name) => results.find((r) => r.name === name)
  const sidecar = find('sidecar')
  if (!sidecar) return true
  let met = true
  for (const [base, checks] of [
    [
      find('node:http'),
      [
        ['p99 delivery latency (rest)', 'p99', 0.8],
        ['CPU per broadcast (rest, median)', 'cpuMs', 0.8],
        ['memory per stream (rss)', 'rssPerStream'],
      ],
    ],
    [
      find('koa+ws'),
      [
        ['memory per stream (rss)', 'rssPerStream', 1],
        ['p99 delivery latency (rest)', 'p99'],
        ['CPU per broadcast (rest, median)', 'cpuMs'],
      ],
    ],
  ]) {
    if (!base) continue
    console.log(`\nsidecar / ${base.name}` + (sidecar.rounds > 1 ? '   (per round in brackets)' : ''))
    for (const [label, key, target] of checks) {
      const pick = (r) => (key === 'rssPerStream' ? r.rssPerStream : r.rest?.[key])
      const ratio = pick(sidecar) / pick(base)
      const rounds = sidecar.perRound.map((s, i) => s[key] / base.perRound[i]?.[key])
      const spread = rounds.length > 1 ? `   [${list(rounds, 2)}]` : ''
      const verdict =
        target === undefined ? '(informational)' : `target <= ${target}x   ${ratio <= target ? 'met' : 'NOT met'}`
      if (target !== undefined) met &&= ratio <= target
      console.log(`  ${label.padEnd(34)} ${ratio.toFixed(2)}x   ${verdict}${spread}`)
    }
  }
  return met
}
