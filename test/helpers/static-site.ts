import { chmod, mkdtemp, rename, rm, symlink, utimes } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll } from 'vitest'
import { freePort } from './free-port.js'
import { startNginx, type RunningNginx } from './nginx.js'
import { viteBuild } from './vite-build.js'

export interface StaticSite {
  /** nginx's origin, serving the live build through the project's nginx.conf; no sidecar runs. */
  url: string
  /** A loopback port nothing listens on (nginx's upstream, so its /deploy-notify/ answers 502). */
  closedPort: number
  /** The folder of a build, to add files to. */
  folder(build: string): string
  /** Makes one build the live files, in one atomic rename, as a release symlink does. */
  deploy(build: string): Promise<void>
  /** The access log's request lines so far, as `GET /version.json HTTP/1.1 304`. */
  accessLog: () => Promise<string[]>
}

/**
 * Builds the Vite app at `root` once per entry of `builds`, one after the other (so each
 * version.json's `time` is later than the one before), and serves the first through the
 * project's nginx.conf with no sidecar behind it, for the calling describe block.
 */
export function useStaticSite(
  nginxBinary: string,
  root: string,
  builds: Record<string, Record<string, string>>,
): () => StaticSite {
  let base = ''
  let nginx: RunningNginx | undefined
  let site: StaticSite | undefined

  beforeAll(async () => {
    base = await mkdtemp(join(tmpdir(), 'deploy-notify-static-'))
    await chmod(base, 0o755) // nginx's workers run as nobody
    const names = Object.keys(builds)
    for (const [i, build] of names.entries()) {
      await viteBuild(root, join(base, build), builds[build]!)
      // Builds a minute apart, as releases are: nginx's ETag is the file's mtime (in seconds) and
      // size, and two version.json files of one size written in the same second would match.
      const at = Date.now() / 1000 - (names.length - i) * 60
      await utimes(join(base, build, 'version.json'), at, at)
    }
    const live = join(base, 'live')
    const deploy = async (build: string) => {
      await symlink(join(base, build), `${live}.next`)
      await rename(`${live}.next`, live)
    }
    await deploy(Object.keys(builds)[0]!)
    const closedPort = await freePort()
    nginx = await startNginx(nginxBinary, { root: live, upstream: `127.0.0.1:${closedPort}` })
    site = {
      url: nginx.url,
      closedPort,
      folder: (build) => join(base, build),
      deploy,
      accessLog: nginx.accessLog,
    }
  }, 120_000)

  afterAll(async () => {
    await nginx?.stop()
    if (base) await rm(base, { recursive: true, force: true })
  })

  return () => {
    if (!site) throw new Error('the static site is used outside the tests of its describe block')
    return site
  }
}
