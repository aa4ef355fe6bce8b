// CPU pinning. On a small machine the server, the load clients and the driver compete for
// the same cores, and a server preempted by its own load generator shows latency that is
// not its own. Pinning gives the server under test a core of its own (the same one for both
// servers); the clients and the driver share the rest. Needs `taskset` (util-linux).
import { execFileSync } from 'node:child_process'
import { availableParallelism } from 'node:os'

export function planAffinity(mode) {
  if (mode === 'off') return null
  const cpus = availableParallelism()
  let available = true
  try {
    execFileSync('taskset', ['-V'], { stdio: 'ignore' })
  } catch {
    available = false
  }
  if (cpus < 2 || !available) {
    if (mode === 'on') throw new Error('--pin on needs taskset and at least 2 CPUs')
    return null
  }
  const plan = { server: '0', clients: cpus === 2 ? '1' : `1-${cpus - 1}` }
  // The driver mostly waits, but it must not wake up on the server's core either.
  execFileSync('taskset', ['-a', '-p', '-c', plan.clients, String(process.pid)], { stdio: 'ignore' })
  return plan
}

// [command, args] that run `node ...nodeArgs` on the given CPUs (all its threads inherit them).
export function command(cpus, nodeArgs) {
  return cpus ? ['taskset', ['-c', cpus, process.execPath, ...nodeArgs]] : [process.execPath, nodeArgs]
}
