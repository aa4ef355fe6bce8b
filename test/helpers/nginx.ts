import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { createConnection } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { findExecutable } from './executable.js'
import { freePort } from './free-port.js'

/** The example config users copy; the test runs this very file with its values filled in. */
export const NGINX_CONF = fileURLToPath(new URL('../../nginx.conf', import.meta.url))

/** The nginx binary: `NGINX` if set, else the first on PATH or in the usual sbin folders. */
export const findNginx = (): string | undefined =>
  findExecutable('nginx', [process.env.NGINX]) ??
  findExecutable('nginx', ['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/local/nginx/sbin/nginx'])

export interface ConfValues {
  port: number
  root: string
  upstream: string
  /** Where pid, logs and temp files go. */
  runDir: string
  /** The mime.types to include (nginx builds put it in different places). */
  mimeTypes: string
}

/**
 * Fills the test's values into the text of nginx.conf. Each anchor must occur, so an edit to the
 * example that the test would silently stop covering fails here instead.
 */
export function fillConf(text: string, values: ConfValues): string {
  const replacements: [RegExp, string][] = [
    [/^(\s*)listen 80;$/m, `$1listen 127.0.0.1:${values.port};`],
    [/^(\s*)root \/srv\/app\/dist;$/m, `$1root ${values.root};`],
    [/^(\s*)server 127\.0\.0\.1:8080;$/m, `$1server ${values.upstream};`],
    // Reloads end old streams within the test's patience.
    [/^worker_shutdown_timeout 10s;$/m, 'worker_shutdown_timeout 1s;'],
    [/\/run\/nginx\.pid/g, join(values.runDir, 'nginx.pid')],
    [/\/var\/log\/nginx\//g, `${values.runDir}/`],
    [/\/var\/lib\/nginx\//g, `${values.runDir}/`],
    [/include \/etc\/nginx\/mime\.types;/g, `include ${values.mimeTypes};`],
  ]
  for (const [pattern, value] of replacements) {
    if (!pattern.test(text)) throw new Error(`nginx.conf no longer contains ${pattern}; update test/helpers/nginx.ts`)
    text = text.replace(pattern, value)
  }
  return text
}

/** mime.types of this nginx build: Debian's path, else the one beside its compiled-in conf path. */
function mimeTypesOf(nginx: string): string {
  if (existsSync('/etc/nginx/mime.types')) return '/etc/nginx/mime.types'
  const info = spawnSync(nginx, ['-V'], { encoding: 'utf8' }).stderr
  const confPath = /--conf-path=(\S+)/.exec(info)?.[1]
  const candidate = confPath ? join(dirname(confPath), 'mime.types') : ''
  if (!existsSync(candidate)) throw new Error(`cannot find mime.types for ${nginx}`)
  return candidate
}

export interface RunningNginx {
  url: string
  port: number
  pid: number
  /** The error log so far, for failure messages. */
  errorLog(): Promise<string>
  /** The request lines of the access log so far, with their status: `GET /version.json HTTP/1.1 304`. */
  accessLog: () => Promise<string[]>
  /** Stops this nginx (its master process, by PID) and removes its files. */
  stop(): Promise<void>
}

/**
 * Runs nginx in the foreground with nginx.conf filled in, proxying to `upstream`
 * (`127.0.0.1:PORT`) and serving `root`; resolves once its port accepts connections.
 */
export async function startNginx(
  nginx: string,
  { root, upstream }: { root: string; upstream: string },
): Promise<RunningNginx> {
  const runDir = await mkdtemp(join(tmpdir(), 'deploy-notify-nginx-'))
  // Started as root, nginx's workers run as `nobody`; they must reach the files they serve.
  await chmod(runDir, 0o755)
  await chmod(root, 0o755)
  await mkdir(join(runDir, 'conf'))
  const port = await freePort()
  const conf = join(runDir, 'conf', 'nginx.conf')
  await writeFile(
    conf,
    fillConf(await readFile(NGINX_CONF, 'utf8'), { port, root, upstream, runDir, mimeTypes: mimeTypesOf(nginx) }),
  )

  const errorLogPath = join(runDir, 'error.log')
  const child = spawn(nginx, ['-p', runDir, '-c', conf, '-e', errorLogPath, '-g', 'daemon off;'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()))
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()))
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)))
  const errorLog = async (): Promise<string> => output + (await readFile(errorLogPath, 'utf8').catch(() => ''))

  const stop = async (): Promise<void> => {
    await stopProcess(child, exited)
    await rm(runDir, { recursive: true, force: true })
  }

  try {
    await waitForPort(port, exited, 5000)
  } catch (error) {
    const log = await errorLog()
    await stop()
    throw new Error(`${(error as Error).message}\n${log}`)
  }
  if (child.pid === undefined) throw new Error('nginx has no pid')
  const accessLog = async (): Promise<string[]> =>
    (await readFile(join(runDir, 'access.log'), 'utf8').catch(() => ''))
      .split('\n')
      .flatMap((line) => /"([^"]*)" (\d{3})/.exec(line)?.slice(1, 3).join(' ') ?? [])
  return { url: `http://127.0.0.1:${port}`, port, pid: child.pid, errorLog, accessLog, stop }
}

/** TERM is nginx's fast shutdown (QUIT would wait for every open event stream); KILL if stuck. */
async function stopProcess(child: ChildProcess, exited: Promise<unknown>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
  await exited
  clearTimeout(timer)
}

/** Polls until `port` accepts a connection; fails if nginx exits first or time runs out. */
async function waitForPort(port: number, exited: Promise<number | null>, timeoutMs: number): Promise<void> {
  let exitCode: number | null | undefined
  void exited.then((code) => (exitCode = code))
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (exitCode !== undefined) throw new Error(`nginx exited with code ${exitCode} before listening on ${port}`)
    if (await connects(port)) return
    if (Date.now() > deadline) throw new Error(`nginx not listening on ${port} within ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

function connects(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: '127.0.0.1' })
    socket.once('connect', () => (socket.destroy(), resolve(true)))
    socket.once('error', () => (socket.destroy(), resolve(false)))
  })
}
