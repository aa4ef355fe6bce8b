import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { findExecutable } from './executable.js'
import { freePort } from './nginx.js'

/** The redis-server binary, if installed. */
export const findRedis = (): string | undefined => findExecutable('redis-server', ['/usr/bin/redis-server'])

/** Answers PING with PONG: the server is up. */
function pong(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => socket.write('PING\r\n'))
    socket.setTimeout(500, () => (socket.destroy(), resolve(false)))
    socket.once('data', (data) => (socket.destroy(), resolve(String(data).startsWith('+PONG'))))
    socket.once('error', () => resolve(false))
  })
}

/**
 * A real Redis of the test's own, on a free loopback port. Its data is kept in a folder of its
 * own (append-only file), so `restart()` on the same port brings the same state back.
 */
export class RedisServer {
  readonly url: string
  #child: ChildProcess | undefined

  private constructor(
    readonly binary: string,
    readonly port: number,
    readonly dir: string,
  ) {
    this.url = `redis://127.0.0.1:${port}`
  }

  static async create(binary: string): Promise<RedisServer> {
    return new RedisServer(binary, await freePort(), await mkdtemp(join(tmpdir(), 'deploy-notify-redis-')))
  }

  /** Starts it and resolves once it answers PING (bounded). */
  async start(): Promise<void> {
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'yes', '--dir', this.dir, '--daemonize', 'no']
    this.#child = spawn(this.binary, args, { stdio: 'ignore' })
    const deadline = Date.now() + 5000
    while (!(await pong(this.port))) {
      if (Date.now() > deadline) throw new Error(`redis-server on ${this.port} did not answer within 5 s`)
      await new Promise((resolve) => setTimeout(resolve, 25))
    }
  }

  /** Stops it by PID (TERM, then KILL after a bound) and waits for the exit. */
  async stop(): Promise<void> {
    const child = this.#child
    if (!child || child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000)
    await exited
    clearTimeout(timer)
  }

  async remove(): Promise<void> {
    await this.stop()
    await rm(this.dir, { recursive: true, force: true })
  }
}

/** Sends one command to Redis and resolves with its raw reply (enough for tests). */
export function redisCommand(port: number, ...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () =>
      socket.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`),
    )
    let reply = ''
    socket.setTimeout(2000, () => (socket.destroy(), reject(new Error(`no reply to ${args.join(' ')}`))))
    socket.on('data', (data) => {
      reply += String(data)
      // A status, error or integer line, or a bulk string that has fully arrived.
      const bulk = /^\$(\d+)\r\n/.exec(reply)
      if (!bulk || reply.length >= bulk[0].length + Number(bulk[1]) + 2) {
        socket.destroy()
        resolve(reply)
      }
    })
    socket.once('error', reject)
  })
}
