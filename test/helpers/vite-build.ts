import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const VITE = fileURLToPath(new URL('../../node_modules/vite/bin/vite.js', import.meta.url))

/**
 * `vite build` of the app at `root` as a user runs it, in its own process, with `env` added to
 * the environment (APP_VERSION=v2, VITE_ROUTER=hash), bounded by `timeoutMs`.
 */
export function viteBuild(
  root: string,
  outDir: string,
  env: Record<string, string>,
  timeoutMs = 30_000,
): Promise<void> {
  const environment: NodeJS.ProcessEnv = { ...process.env, ...env }
  // vitest's own settings would leak into the build (NODE_ENV=test is not a production build).
  delete environment.NODE_ENV
  delete environment.VITEST
  const child = spawn(
    process.execPath,
    [VITE, 'build', root, '--outDir', outDir, '--emptyOutDir', '--logLevel', 'warn'],
    { env: environment, stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
  const name = `vite build ${root} ${JSON.stringify(env)}`
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => (child.kill('SIGKILL'), reject(new Error(`${name} took over ${timeoutMs} ms:\n${output}`))),
      timeoutMs,
    )
    child.on('close', (code) => {
      clearTimeout(timer)
      if (code === 0) resolve()
      else reject(new Error(`${name} exited ${code}:\n${output}`))
    })
  })
}
