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

/**
 * Where the version comes from: `'git'` (the commit, `git rev-parse --short HEAD`),
 * `'package'` (package.json's version), `'timestamp'` (the build's start, ISO-8601), a
 * function, or any other string as the version itself.
 */
export type VersionSource = 'git' | 'package' | 'timestamp' | (string & {}) | (() => string | Promise<string>)

const SOURCES = ['git', 'package', 'timestamp']

/**
 * The variable a build without `.git` (a Docker build context) reads instead of the commit:
 * `ARG DEPLOY_NOTIFY_VERSION` in the Dockerfile, `--build-arg DEPLOY_NOTIFY_VERSION=$(git rev-parse --short HEAD)`.
 */
export const VERSION_VARIABLE = 'DEPLOY_NOTIFY_VERSION'

/** The version a bundler plugin stamps (unchecked: the caller checks it and names its option). */
export async function resolveVersion(
  source: VersionSource,
  root: string,
  env: Record<string, string | undefined> = process.env,
): Promise<string> {
  if (typeof source === 'function') return source()
  if (!SOURCES.includes(source)) return source
  if (source === 'timestamp') return new Date().toISOString()
  if (source === 'git') {
    try {
      return await gitCommit(root)
    } catch (error) {
      const fallback = env[VERSION_VARIABLE]
      if (fallback) return fallback
      throw new Error(
        `${(error as Error).message}; where the build has no .git (a Docker build context), set ${VERSION_VARIABLE} (--build-arg ${VERSION_VARIABLE}=$(git rev-parse --short HEAD)) or pass the version`,
        { cause: error },
      )
    }
  }
  const found = await nearestPackage(root)
  if (found?.version === undefined)
    throw new Error(found ? `${found.path} has no "version"` : `no package.json at or above ${root}`)
  return found.version
}
