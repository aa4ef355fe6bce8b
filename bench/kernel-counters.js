// Machine-wide counters from /proc (Linux only) that say when a latency tail belongs to the
// test rig rather than to the server:
// - loopback drops and TCP retransmissions: when the kernel's per-CPU input queue
//   (net.core.netdev_max_backlog) overflows during a fan-out, a frame is resent after a loss
//   probe or an RTO (10 ms to 200+ ms);
// - CPU time used by the whole machine, from which the driver subtracts what the benchmark's
//   own processes used: the rest is other work competing for the same cores.
import { readFileSync } from 'node:fs'

function backlogDrops() {
  // One row per CPU; the second column is packets dropped because the backlog was full.
  return readFileSync('/proc/net/softnet_stat', 'utf8')
    .trim()
    .split('\n')
    .reduce((sum, row) => sum + parseInt(row.trim().split(/\s+/)[1], 16), 0)
}

function retransmits() {
  const lines = readFileSync('/proc/net/snmp', 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('Tcp:'))
  const [names, values] = lines.map((l) => l.trim().split(/\s+/))
  return Number(values[names.indexOf('RetransSegs')])
}

function busyMs() {
  // user, nice, system, irq, softirq of all CPUs (a process's system time includes the
  // softirq work it triggers), in USER_HZ ticks: 100 per second on Linux.
  const t = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number)
  return (t[0] + t[1] + t[2] + t[5] + t[6]) * 10
}

export function readCounters() {
  try {
    return { drops: backlogDrops(), retransmits: retransmits(), busyMs: busyMs() }
  } catch {
    return null // not Linux, or /proc unreadable: reported as unknown
  }
}

export function delta(before, after) {
  if (!before || !after) return null
  return {
    drops: after.drops - before.drops,
    retransmits: after.retransmits - before.retransmits,
    busyMs: after.busyMs - before.busyMs,
  }
}

// Share of all CPUs busy over `ms`, sampled before the benchmark starts (when none of its own
// processes run): other work on the machine makes latency figures noisy.
export async function machineBusy(ms = 1000) {
  const sample = () => {
    try {
      const [, ...fields] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/)
      const t = fields.map(Number)
      const idle = t[3] + (t[4] ?? 0) // idle + iowait
      return { idle, total: t.slice(0, 8).reduce((a, b) => a + b, 0) }
    } catch {
      return null
    }
  }
  const a = sample()
  await new Promise((resolve) => setTimeout(resolve, ms))
  const b = sample()
  if (!a || !b || b.total === a.total) return null
  return 1 - (b.idle - a.idle) / (b.total - a.total)
}
