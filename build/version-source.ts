/**
 * Where a build's version comes from when nobody names one: the git commit of the working
 * tree, or the app's package.json. Shared by `deploy-notify stamp` and the Vite plugin.
 */
import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'

/** `git rev-parse --short HEAD` in `cwd`; rejects with git's own reason (no git, not a repository, no commit yet). */
export function gitCommit(cwd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('git', ['rev-parse', '--short', 'HEAD'], { cwd, timeout: 10_000 }, (error, stdout, stderr) => {
      if (!error) return resolve(stdout.trim())
      const reason =
        (error as NodeJS.ErrnoException).code === 'ENOENT'
          ? 'git is not installed'
          : stderr.trim().split('\n')[0] || error.message
      reject(new Error(`no git commit in ${cwd} (${reason})`))
    })
  })
}

export interface PackageInfo {
  path: string
  version?: string
}

/** The nearest package.json at or above `dir`, and its version if it has one. */
export async function nearestPackage(dir: string): Promise<PackageInfo | undefined> {
  for (let current = dir; ; current = dirname(current)) {
    const path = join(current, 'package.json')
    let text: string | undefined
    try {
      text = await readFile(path, 'utf8')
    } catch {
      text = undefined
    }
    if (text !== undefined) {
      let version: unknown
      try {
        version = (JSON.parse(text) as { version?: unknown }).version
      } catch {
        version = undefined // not ours to judge
      }
      return { path, ...(typeof version === 'string' && version ? { version } : {}) }
    }
    if (dirname(current) === current) return undefined
  }
}
