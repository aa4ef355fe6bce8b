import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

/** examples/vite-app: a page with a lazily loaded chunk, built with the Vite plugin. */
const EXAMPLE = fileURLToPath(new URL('../../examples/vite-app/', import.meta.url))
const VITE = fileURLToPath(new URL('../../node_modules/vite/bin/vite.js', import.meta.url))
/** The app its vite.config.ts names. */
export const EXAMPLE_APP = 'example'

/** `vite build` of the example as a user runs it, in its own process, with the version from the environment. */
export function buildExample(version: string, outDir: string): Promise<void> {
  const env: NodeJS.ProcessEnv = { ...process.env, APP_VERSION: version }
  // vitest's own settings would leak into the build (NODE_ENV=test is not a production build).
  delete env.NODE_ENV
  delete env.VITEST
  const child = spawn(
    process.execPath,
    [VITE, 'build', EXAMPLE, '--outDir', outDir, '--emptyOutDir', '--logLevel', 'warn'],
    { env, stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => (child.kill('SIGKILL'), reject(new Error(`vite build ${version} took over 20 s:\n${output}`))),
      20_000,
    )
    child.on('close', (code) => {
      clearTimeout(timer)
      if (code === 0) resolve()
      else reject(new Error(`vite build ${version} exited ${code}:\n${output}`))
    })
  })
}
