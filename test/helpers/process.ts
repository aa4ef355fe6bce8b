import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

export const CLI = fileURLToPath(new URL('../../dist/cli/cli.js', import.meta.url))

export interface Exit {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

export interface SidecarProcess {
  child: ChildProcess
  port: number
  url: string
  /** Everything printed so far. */
  output(): string
  /** Resolves when the process ends, with its exit code and output. */
  exited: Promise<Exit>
}

function requireBuild(): void {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run "npm run build" first (npm test does)`)
}

/** Runs the built CLI to completion, as CI would, bounded by `timeoutMs`. */
export function runCli(args: string[], env: Record<string, string> = {}, timeoutMs = 10_000): Promise<Exit> {
  requireBuild()
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  return collect(child, timeoutMs)
}

/** A CLI process still running, for tests that act while it waits. */
export interface CliProcess {
  child: ChildProcess
  /** Everything printed so far, stdout then stderr as they came. */
  output(): string
  /** Resolves the first time the output matches, within `timeoutMs`. */
  printed(pattern: RegExp, timeoutMs?: number): Promise<void>
  exited: Promise<Exit>
}

/** Starts the built CLI without waiting for it, bounded by `timeoutMs`. */
export function startCli(args: string[], env: Record<string, string> = {}, timeoutMs = 10_000): CliProcess {
  requireBuild()
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let text = ''
  const waiters = new Set<() => void>()
  const exited = collect(child, timeoutMs, (all) => {
    text = all
    for (const check of waiters) check()
  })
  exited.catch(() => {}) // the test awaits it; an early rejection must not go unhandled meanwhile
  const printed = (pattern: RegExp, waitMs = 5000) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => (waiters.delete(check), reject(new Error(`no ${pattern} within ${waitMs} ms; output:\n${text}`))),
        waitMs,
      )
      const check = () => {
        if (!pattern.test(text)) return
        clearTimeout(timer)
        waiters.delete(check)
        resolve()
      }
      waiters.add(check)
      check()
    })
  return { child, output: () => text, printed, exited }
}

function collect(child: ChildProcess, timeoutMs: number, onOutput?: (text: string) => void): Promise<Exit> {
  let stdout = ''
  let stderr = ''
  child.stdout?.on('data', (chunk: Buffer) => ((stdout += chunk.toString()), onOutput?.(stdout + stderr)))
  child.stderr?.on('data', (chunk: Buffer) => ((stderr += chunk.toString()), onOutput?.(stdout + stderr)))
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`process did not exit within ${timeoutMs} ms; output:\n${stdout}${stderr}`))
    }, timeoutMs)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr })
    })
  })
}

/**
 * Starts `deploy-notify serve` as its own process and resolves once it logs its port. With
 * `fileLimit`, it runs under that open-file limit (`ulimit -n`, through bash).
 */
export async function spawnSidecar(
  env: Record<string, string>,
  lifetimeMs = 60_000,
  { fileLimit }: { fileLimit?: number } = {},
): Promise<SidecarProcess> {
  requireBuild()
  const [command, args] =
    fileLimit === undefined
      ? [process.execPath, [CLI, 'serve']]
      : ['bash', ['-c', `ulimit -n ${fileLimit} && exec "$0" "$@"`, process.execPath, CLI, 'serve']]
  const child = spawn(command, args, {
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let text = ''
  let onListening: (port: number) => void = () => {}
  const listening = new Promise<number>((resolve) => (onListening = resolve))
  const exited = collect(child, lifetimeMs, (all) => {
    text = all
    const port = /"port":(\d+)/.exec(all)?.[1]
    if (port) onListening(Number(port))
  })
  const failed = exited.then((exit) => {
    throw new Error(`sidecar exited (${exit.code}) before listening:\n${exit.stdout}${exit.stderr}`)
  })
  failed.catch(() => {}) // only the race below cares
  const port = await Promise.race([
    listening,
    failed,
    new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`sidecar not listening within 10 s:\n${text}`)), 10_000),
    ),
  ])
  return { child, port, url: `http://127.0.0.1:${port}`, output: () => text, exited }
}
