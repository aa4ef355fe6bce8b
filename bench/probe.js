// Preloaded into BOTH servers (`node --expose-gc --import ./bench/probe.js ...`) so that CPU
// and memory are read the same way, from inside each process, without touching their code.
// Answers only messages tagged `probe`, and only when the driver spawned us with an IPC channel.

if (typeof process.send === 'function') {
  process.on('message', (msg) => {
    if (!msg || typeof msg !== 'object' || msg.probe !== 'usage') return
    // A forced full GC (twice: the first one may only queue finalizers) makes heap
    // readings comparable between servers; it is skipped for CPU readings.
    if (msg.gc && typeof globalThis.gc === 'function') {
      globalThis.gc()
      globalThis.gc()
    }
    const cpu = process.cpuUsage() // microseconds, user and system
    const m = process.memoryUsage()
    process.send({
      probe: 'usage',
      id: msg.id,
      cpu: { user: cpu.user, system: cpu.system },
      mem: { rss: m.rss, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers },
    })
  })
  // The channel must not keep a server alive by itself, and a server orphaned by a
  // crashed driver must not linger holding thousands of sockets.
  process.channel?.unref()
  process.on('disconnect', () => process.exit(0))
}
