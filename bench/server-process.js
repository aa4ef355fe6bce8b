// Starts one server under test with the probe preloaded, learns its port from its JSON log
// line, and keeps draining its output (a full stdout pipe would block a synchronous logger
// and distort the measurement).
import { spawn } from 'node:child_process'
import { createServer } from 'node:net'
import { createInterface } from 'node:readline'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { call } from './ipc.js'
import { stop, track } from './children.js'
import { command } from './affinity.js'

const repoRoot = fileURLToPath(new URL('..', import.meta.url))
/** The built sidecar's command line (`npm run build` first). */
export const sidecarCli = fileURLToPath(new URL('../dist/cli/cli.js', import.meta.url))
const probe = pathToFileURL(fileURLToPath(new URL('./probe.js', import.meta.url))).href

// A minute to start: on a machine shared with other work, a pinned sidecar took over 15 s.
export function startServer({ script, args = [], env, cpus, startTimeoutMs = 60000 }) {
  const [file, argv] = command(cpus, ['--expose-gc', '--import', probe, script, ...args])
  const child = track(
    spawn(file, argv, {
      cwd: repoRoot,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    }),
  )
  const log = { tail: [], problems: 0, problemSamples: [], stderr: [] }
  const remember = (list, line, max) => {
    list.push(line)
    if (list.length > max) list.shift()
  }

  return new Promise((resolve, reject) => {
    let port = null
    const timer = setTimeout(
      () => fail(new Error(`no listening port logged within ${startTimeoutMs} ms`)),
      startTimeoutMs,
    )
    const fail = (err) => {
      clearTimeout(timer)
      child.kill('SIGKILL')
      const detail = [...log.tail, ...log.stderr].slice(-10).join('\n')
      reject(new Error(`${script}: ${err.message}${detail ? `\n--- last output ---\n${detail}` : ''}`))
    }
    child.once('error', fail)
    child.once('exit', (code, signal) => {
      if (port === null) fail(new Error(`exited (${signal ?? code}) before listening`))
    })
    createInterface({ input: child.stderr }).on('line', (line) => remember(log.stderr, line, 20))
    createInterface({ input: child.stdout }).on('line', (line) => {
      remember(log.tail, line, 20)
      let entry = null
      try {
        entry = JSON.parse(line)
      } catch {
        return
      }
      // pino levels: 40 = warn, 50 = error, 60 = fatal. Worth reporting, not fatal here.
      if (typeof entry?.level === 'number' && entry.level >= 40) {
        log.problems++
        if (log.problemSamples.length < 5) log.problemSamples.push(line.slice(0, 300))
      }
      if (port === null && typeof entry?.port === 'number') {
        port = entry.port
        clearTimeout(timer)
        resolve({
          child,
          port,
          log,
          usage: (gc = false) => call(child, { probe: 'usage', gc }, 30000),
          stop: () => stop(child),
        })
      }
    })
  })
}

/** A port free on loopback now, for a server that must be started again on the same port. */
export const freePort = () =>
  new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
