import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { findExecutable } from './executable.js'
import { freePort } from './free-port.js'

/** The redis-server binary: `REDIS_SERVER` if set, else the first on PATH or in the usual folders. */
export const findRedisServer = (): string | undefined =>
  findExecutable('redis-server', [process.env.REDIS_SERVER]) ??
  findExecutable('redis-server', ['/usr/bin/redis-server', '/usr/local/bin/redis-server'])

export const REDIS_SERVER = findRedisServer()

/**
 * Whether a suite that needs Redis must be skipped: only when redis-server is missing on a
 * developer's machine, and then loudly. In CI a missing redis-server fails the suite instead
 * (`startRedis` throws), so the Redis tests can never pass by not running.
 */
export function skipWithoutRedis(file: string): boolean {
  if (REDIS_SERVER || process.env.CI) return false
  console.warn(
    `\n!!! redis-server not found: SKIPPING ${file} (set REDIS_SERVER=/path/to/redis-server; CI fails instead) !!!\n`,
  )
  return true
}

/** How long a start may take to answer PING, and a stop to end before KILL. */
const START_TIMEOUT_MS = 5000
const STOP_GRACE_MS = 3000

/** What makes a server more than a plain one: more arguments, or the Sentinel role. */
export interface RedisServerOptions {
  /** Appended to the command line (`--replicaof 127.0.0.1 6379`, `--cluster-enabled yes`, TLS). */
  args?: string[]
  /** Requires this password of clients (and gives it to its master, as a replica). */
  password?: string
  /** Runs a Sentinel instead (`redis-server sentinel.conf --sentinel`) with these lines of config. */
  sentinel?: string[]
}

/**
 * A real redis-server of the test's own: a child process on a free loopback port, its data in a
 * folder of its own with the append-only file on, so `restart()` on the same port and folder
 * comes back with the same state, as a production Redis does.
 */
export class RedisServer {
  readonly url: string
  #child: ChildProcess | undefined
  #exited: Promise<void> = Promise.resolve()
  #output = ''

  private constructor(
    readonly binary: string,
    readonly port: number,
    readonly dir: string,
    readonly options: RedisServerOptions,
  ) {
    this.url = `redis://127.0.0.1:${port}`
  }

  /** A server on a free port, not started yet (for "Redis down at start"). */
  static async create(binary = REDIS_SERVER, options: RedisServerOptions = {}): Promise<RedisServer> {
    if (!binary)
      throw new Error('redis-server is required (CI installs it; apt-get install redis-server, or set REDIS_SERVER)')
    return new RedisServer(binary, await freePort(), await mkdtemp(join(tmpdir(), 'deploy-notify-redis-')), options)
  }

  get running(): boolean {
    return this.#child !== undefined && this.#child.exitCode === null && this.#child.signalCode === null
  }

  get pid(): number | undefined {
    return this.#child?.pid
  }

  /** Starts it (again, on the same port and folder) and resolves once it answers PING. */
  async start(): Promise<void> {
    if (this.running) throw new Error(`redis-server on ${this.port} is already running`)
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'yes']
    args.push('--dir', this.dir, '--daemonize', 'no', ...(this.options.args ?? []))
    const { password } = this.options
    if (password) args.push('--requirepass', password, '--masterauth', password)
    if (this.options.sentinel) {
      // A Sentinel rewrites its file with what it learns; a restart keeps that, as in production.
      const conf = join(this.dir, 'sentinel.conf')
      if (!existsSync(conf)) await writeFile(conf, this.options.sentinel.join('\n') + '\n')
      args.unshift(conf, '--sentinel')
    }
    const child = spawn(this.binary, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    this.#child = child
    const keep = (chunk: Buffer) => (this.#output = (this.#output + chunk.toString()).slice(-4000))
    child.stdout?.on('data', keep)
    child.stderr?.on('data', keep)
    this.#exited = new Promise((resolve) => child.once('exit', () => resolve()))
    const deadline = Date.now() + START_TIMEOUT_MS
    // Polled with a bound: a fresh server answers within milliseconds, one loading its
    // append-only file answers -LOADING until it is done.
    while (!(await answersPing(this.port))) {
      if (!this.running) throw new Error(`redis-server on ${this.port} exited at start:\n${this.#output}`)
      if (Date.now() > deadline) {
        await this.stop()
        throw new Error(
          `redis-server on ${this.port} did not answer PING within ${START_TIMEOUT_MS} ms:\n${this.#output}`,
        )
      }
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }

  /** Stops it by PID: TERM (it syncs the append-only file and exits), KILL after a bound. */
  async stop(): Promise<void> {
    const child = this.#child
    if (!child || !this.running) return
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS)
    await this.#exited
    clearTimeout(timer)
  }

  /** Kills it by PID with SIGKILL, as a crashed host would go: nothing is synced. */
  async kill(): Promise<void> {
    if (!this.running) return
    this.#child?.kill('SIGKILL')
    await this.#exited
  }

  async restart(): Promise<void> {
    await this.stop()
    await this.start()
  }

  /** Sends one command on a connection of the test's own, e.g. `command('CLIENT', 'KILL', 'TYPE', 'pubsub')`. */
  async command(...args: (string | number)[]): Promise<unknown> {
    const client = new Redis(this.port, '127.0.0.1', {
      password: this.options.password,
      lazyConnect: true,
      enableOfflineQueue: false,
      retryStrategy: () => null,
    })
    client.on('error', () => {}) // the command's promise carries the failure
    try {
      await client.connect()
      const [name, ...rest] = args
      return await client.call(String(name), ...rest)
    } finally {
      client.disconnect()
    }
  }

  /** How many times Redis ran a command since it started, from INFO commandstats. */
  async calls(command: string): Promise<number> {
    const info = String(await this.command('INFO', 'commandstats'))
    return Number(new RegExp(`^cmdstat_${command.toLowerCase()}:calls=(\\d+)`, 'm').exec(info)?.[1] ?? 0)
  }

  /** The server's output so far, for failure messages. */
  output(): string {
    return this.#output
  }

  /** Stops it and removes its folder. */
  async remove(): Promise<void> {
    await this.stop()
    await rm(this.dir, { recursive: true, force: true })
  }
}

/** A Redis of the test's own, started. */
export async function startRedis(): Promise<RedisServer> {
  const server = await RedisServer.create()
  try {
    await server.start()
  } catch (error) {
    await server.remove()
    throw error
  }
  return server
}

/**
 * Answers PING with PONG (or asks for the password first): up and done loading. An inline
 * command needs no RESP client.
 */
function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => socket.write('PING\r\n'))
    const done = (up: boolean) => (socket.destroy(), resolve(up))
    socket.setTimeout(500, () => done(false))
    socket.once('data', (data) => done(/^(\+PONG|-NOAUTH)/.test(data.toString())))
    socket.once('error', () => done(false))
    socket.once('close', () => done(false))
  })
}
