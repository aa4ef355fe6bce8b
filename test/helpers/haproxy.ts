import { spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { findExecutable } from './executable.js'
import { freePort } from './free-port.js'

/** The haproxy binary: `HAPROXY` if set, else the first on PATH or in the usual sbin folders. */
export const findHaproxy = (): string | undefined =>
  findExecutable('haproxy', [process.env.HAPROXY]) ??
  findExecutable('haproxy', ['/usr/sbin/haproxy', '/usr/local/sbin/haproxy'])

/** Skips loudly where haproxy is missing on a developer's machine; CI fails instead (`startHaproxy` throws). */
export function skipWithoutHaproxy(file: string): boolean {
  if (findHaproxy() || process.env.CI) return false
  console.warn(
    `\n!!! haproxy not found: SKIPPING parts of ${file} (set HAPROXY=/path/to/haproxy; CI fails instead) !!!\n`,
  )
  return true
}

export interface RunningHaproxy {
  url: string
  stop(): Promise<void>
}

/**
 * haproxy in the foreground in front of `upstream` (`127.0.0.1:PORT`), with a config that adds
 * no forwarding header (haproxy's default: no `option forwardfor`), so to the upstream every
 * caller looks like loopback. Resolves once its port accepts connections.
 */
export async function startHaproxy(upstream: string): Promise<RunningHaproxy> {
  const binary = findHaproxy()
  if (!binary) throw new Error('haproxy is required (apt-get install haproxy, or set HAPROXY)')
  const port = await freePort()
  const dir = await mkdtemp(join(tmpdir(), 'deploy-notify-haproxy-'))
  const conf = join(dir, 'haproxy.cfg')
  await writeFile(
    conf,
    [
      'defaults',
      '  mode http',
      '  timeout connect 5s',
      '  timeout client 30s',
      '  timeout server 30s',
      'frontend front',
      `  bind 127.0.0.1:${port}`,
      '  default_backend sidecar',
      'backend sidecar',
      `  server one ${upstream}`,
      '',
    ].join('\n'),
  )
  const child = spawn(binary, ['-db', '-f', conf], { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
    await exited
    await rm(dir, { recursive: true, force: true })
  }
  const deadline = Date.now() + 5000
  while (!(await accepts(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop()
      throw new Error(`haproxy did not listen on ${port} within 5 s:\n${output}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  return { url: `http://127.0.0.1:${port}`, stop }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => (socket.destroy(), resolve(true)))
    socket.once('error', () => resolve(false))
  })
}
