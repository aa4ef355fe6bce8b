import { chmod, mkdtemp, rename, rm, symlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll } from 'vitest'
import { startNginx, type RunningNginx } from './nginx.js'
import { spawnSidecar, type SidecarProcess } from './process.js'
import { TOKEN } from './sidecar.js'
import { viteBuild } from './vite-build.js'

export interface DeployedApp {
  /** nginx's origin: the app's files, and the sidecar under /deploy-notify/ (nginx.conf). */
  url: string
  sidecar: SidecarProcess
  /** Makes one build the live files, in one atomic rename, as a release symlink does. */
  deploy(build: string): Promise<void>
  /** What CI sends once the files are live. */
  notify(version: string, message?: string): Promise<void>
  /** Stops the sidecar process (SIGSTOP): it keeps its sockets and answers nothing. Returns the function that resumes it. */
  stall(): () => void
}

export interface AppBuilds {
  /** The app's folder. */
  root: string
  /** Builds the app at `root` into `outDir` with `env` added to the environment; `vite build` by default. */
  bundle?: (root: string, outDir: string, env: Record<string, string>) => Promise<void>
  /** The app's name on the sidecar (what its vite.config.ts gives the plugin). */
  app: string
  /** Build name -> the build's environment (`APP_VERSION`, ...); the first is live at the start. */
  builds: Record<string, Record<string, string>>
}

/**
 * Builds the app once per entry of `builds`, and serves the live build through the
 * project's nginx.conf with a sidecar process behind it, for the calling describe block.
 */
export function useDeployedApp(
  nginxBinary: string,
  { root, app: name, builds, bundle = viteBuild }: AppBuilds,
): () => DeployedApp {
  let folder = ''
  let nginx: RunningNginx | undefined
  let sidecar: SidecarProcess | undefined
  let app: DeployedApp | undefined

  beforeAll(async () => {
    folder = await mkdtemp(join(tmpdir(), 'deploy-notify-app-'))
    await chmod(folder, 0o755) // nginx's workers run as nobody
    const live = join(folder, 'live')
    // One after the other: the machine running the tests is busy enough.
    for (const [build, env] of Object.entries(builds)) await bundle(root, join(folder, build), env)
    const deploy = async (build: string) => {
      await symlink(join(folder, build), `${live}.next`)
      await rename(`${live}.next`, live)
    }
    await deploy(Object.keys(builds)[0]!)
    sidecar = await spawnSidecar({ NOTIFY_TOKEN: TOKEN, DATA_DIR: join(folder, 'data'), RETRY_MS: '200' }, 300_000)
    nginx = await startNginx(nginxBinary, { root: live, upstream: `127.0.0.1:${sidecar.port}` })
    const { child } = sidecar
    app = {
      url: nginx.url,
      sidecar,
      deploy,
      async notify(version, message) {
        const response = await fetch(`${sidecar!.url}/notify`, {
          method: 'POST',
          headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
          body: JSON.stringify({ app: name, version, message }),
        })
        if (response.status >= 300) throw new Error(`notify ${version}: ${response.status} ${await response.text()}`)
      },
      stall() {
        child.kill('SIGSTOP')
        return () => child.kill('SIGCONT')
      },
    }
  }, 120_000)

  afterAll(async () => {
    await nginx?.stop()
    if (sidecar) {
      sidecar.child.kill('SIGCONT')
      sidecar.child.kill('SIGTERM')
      await sidecar.exited.catch(() => {})
    }
    if (folder) await rm(folder, { recursive: true, force: true })
  })

  return () => {
    if (!app) throw new Error('the deployed app is used outside the tests of its describe block')
    return app
  }
}
