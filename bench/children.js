// Every child process the benchmark starts is registered here so that it is killed, by PID,
// however the driver ends (normal exit, error, Ctrl-C).
const live = new Set()

export function track(child) {
  live.add(child)
  child.once('exit', () => live.delete(child))
  return child
}

export function killAll(signal = 'SIGKILL') {
  for (const child of live) {
    try {
      process.kill(child.pid, signal)
    } catch {
      // already gone
    }
  }
}

// Stops a child politely, then forcibly; resolves once it has exited (bounded).
export function stop(child, graceMs = 5000) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), graceMs)
    const giveUp = setTimeout(resolve, graceMs + 2000)
    child.once('exit', () => {
      clearTimeout(force)
      clearTimeout(giveUp)
      resolve()
    })
    child.kill('SIGTERM')
  })
}

process.on('exit', () => killAll())
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    killAll()
    process.exit(130)
  })
}
