// Spreads N streams over several load-client processes (a process may hold at most 20,000
// open files) and drives them as one.
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { call } from './ipc.js'
import { stop, track } from './children.js'
import { command } from './affinity.js'

const clientScript = fileURLToPath(new URL('./load-client.js', import.meta.url))

// `protocol`: 'sse' (event streams) or 'ws' (WebSockets), see load-client.js.
export async function startClients({ port, streams, perProcess, concurrency, deadlineMs, cpus, protocol = 'sse' }) {
  const processes = Math.ceil(streams / perProcess)
  const clients = []
  for (let p = 0; p < processes; p++) {
    const count = Math.floor(streams / processes) + (p < streams % processes ? 1 : 0)
    const [file, argv] = command(cpus, [clientScript, protocol])
    const child = track(
      spawn(file, argv, {
        // 'advanced' carries the Float64Array of receive times without JSON text.
        serialization: 'advanced',
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      }),
    )
    clients.push({ child, count })
  }
  // The connection concurrency is shared: the total in flight stays under the accept backlog.
  const each = Math.max(1, Math.floor(concurrency / processes))
  const started = Date.now()
  const results = await Promise.all(
    clients.map(({ child, count }) =>
      call(child, { op: 'connect', port, count, concurrency: each, deadlineMs }, deadlineMs + 5000),
    ),
  )
  const sum = (key) => results.reduce((n, r) => n + r[key], 0)

  return {
    processes,
    connectMs: Date.now() - started,
    connected: sum('connected'),
    failed: sum('failed'),
    retries: sum('retries'),
    errors: results.flatMap((r) => r.errors),
    // Arms every client for a marker; resolves once all have acknowledged, so no byte of the
    // broadcast can arrive before the client is looking for it.
    expect: (marker) => Promise.all(clients.map(({ child }) => call(child, { op: 'expect', marker }, 10000))),
    // All receive times (absolute ms) and the number of streams that did not see the marker.
    collect: async (deadlineMs) => {
      const replies = await Promise.all(
        clients.map(({ child }) => call(child, { op: 'await', deadlineMs }, deadlineMs + 10000)),
      )
      return {
        times: replies.map((r) => r.times),
        missed: replies.reduce((n, r) => n + r.missed, 0),
        clientCpuMs: replies.reduce((n, r) => n + r.cpuUs, 0) / 1000,
      }
    },
    close: async () => {
      await Promise.all(clients.map(({ child }) => call(child, { op: 'close' }, 10000).catch(() => undefined)))
      await Promise.all(clients.map(({ child }) => stop(child, 3000)))
    },
  }
}
