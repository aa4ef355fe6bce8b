// Turns the raw runs of one server (one per round) into the reported figures. The first
// broadcast after connecting is kept apart: it pays for one-off warm-up and is 1.3-2x slower.
import { median, sorted, summarize as latency } from './stats.js'

export function summarizeRuns(runs) {
  const n = runs[0].streams
  const firsts = runs.map((r) => r.broadcasts[0])
  const rest = runs.flatMap((r) => r.broadcasts.slice(1))
  const all = runs.flatMap((r) => r.broadcasts)
  const pooled = (list) => sorted(list.flatMap((b) => Array.from(b.latencies)))
  return {
    name: runs[0].name,
    streams: n,
    rounds: runs.length,
    clientProcesses: runs[0].clientProcesses,
    connectMs: median(runs.map((r) => r.connectMs)),
    retries: runs.reduce((sum, r) => sum + r.retries, 0),
    rssBefore: median(runs.map((r) => r.memBefore.rss)),
    rssAfter: median(runs.map((r) => r.memAfter.rss)),
    rssPerStream: median(runs.map((r) => (r.memAfter.rss - r.memBefore.rss) / n)),
    heapPerStream: median(
      runs.map((r) => (r.memAfter.heapUsed + r.memAfter.external - r.memBefore.heapUsed - r.memBefore.external) / n),
    ),
    first: { ...latency(pooled(firsts)), cpuMs: median(firsts.map((b) => b.cpuMs)) },
    rest: rest.length
      ? {
          ...latency(pooled(rest)),
          cpuMs: median(rest.map((b) => b.cpuMs)),
          clientCpuMs: median(rest.map((b) => b.clientCpuMs)),
          // Less sensitive to warm-up than the pooled p99, which the 2nd/3rd broadcasts dominate.
          medianP99: median(rest.map((b) => latency(b.latencies).p99)),
          // The fastest stream of a broadcast: what happens before the fan-out starts.
          medianMin: median(rest.map((b) => b.latencies[0])),
        }
      : null,
    // Per round, to show how much the figures move between identical runs.
    perRound: runs.map((r) => {
      const later = r.broadcasts.slice(1)
      return {
        p99: later.length ? latency(pooled(later)).p99 : NaN,
        cpuMs: later.length ? median(later.map((b) => b.cpuMs)) : NaN,
        rssPerStream: (r.memAfter.rss - r.memBefore.rss) / n,
      }
    }),
    missed: all.reduce((sum, b) => sum + b.missed, 0),
    kernel: all.every((b) => b.kernel)
      ? {
          drops: all.reduce((sum, b) => sum + b.kernel.drops, 0),
          retransmits: all.reduce((sum, b) => sum + b.kernel.retransmits, 0),
          broadcastsHit: all.filter((b) => b.kernel.drops + b.kernel.retransmits > 0).length,
          broadcasts: all.length,
          otherMsMedian: median(all.map((b) => b.kernel.otherMs)),
          // Beyond the 10 ms tick resolution and accounting slack: someone else was running.
          disturbed: all.filter((b) => b.kernel.otherMs > 30).length,
        }
      : null,
    deliveredMismatch: all
      .filter((b) => typeof b.delivered === 'number' && b.delivered !== n)
      .map((b) => `${b.version}: delivered=${b.delivered} of ${n}`),
    logProblems: runs.reduce((sum, r) => sum + r.logProblems, 0),
    logSamples: runs.flatMap((r) => r.logSamples).slice(0, 5),
  }
}
