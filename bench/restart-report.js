// Prints the restart figure: one column per reconnect policy of the load clients.

/** CPU is read this often while the pages return; the peak is the busiest such window. */
export const CPU_WINDOW_MS = 250

export const POLICIES = {
  hint: "today's client: the retry hint, then backoff",
  backoff: 'the previous client: 0-1 s backoff',
}

export function printRestart(results) {
  const s = (ms) => (Number.isFinite(ms) ? (ms / 1000).toFixed(2) : '-')
  const rows = [
    ['client', (r) => r.policy],
    ['streams', (r) => String(r.streams)],
    ['SIGTERM -> exited (s)', (r) => s(r.shutdownMs)],
    ['exited -> listening again (s)', (r) => s(r.startMs)],
    ['SIGTERM -> first stream back (s)', (r) => s(r.first)],
    ['SIGTERM -> half back (s)', (r) => s(r.p50)],
    ['SIGTERM -> 99% back (s)', (r) => s(r.p99)],
    ['SIGTERM -> every stream back (s)', (r) => s(r.last)],
    ['listening again -> 99% back (s)', (r) => s(r.p99 - r.listeningMs)],
    ['listening again -> every stream back (s)', (r) => s(r.last - r.listeningMs)],
    ['most streams back within 1 s', (r) => String(r.peakPerSecond)],
    ['failed connection attempts', (r) => String(r.failed)],
    ['pages that would poll /version', (r) => String(r.polling)],
    ['streams not back', (r) => String(r.notBack)],
    [`sidecar peak CPU (${CPU_WINDOW_MS} ms window)`, (r) => `${(r.peakCpu * 100).toFixed(0)}%`],
    ['sidecar CPU until all back (ms)', (r) => r.cpuMs.toFixed(0)],
  ]
  const cells = rows.map(([label, get]) => [label, ...results.map(get)])
  const widths = cells[0].map((_, c) => Math.max(...cells.map((row) => row[c].length)))
  for (const row of cells) {
    console.log(row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('   '))
  }
  for (const r of results) console.log(`  ${r.policy}: ${POLICIES[r.policy]}`)
  for (const r of results.filter((r) => r.errors.length))
    console.log(`\n${r.policy} errors:\n  ${r.errors.join('\n  ')}`)
}
