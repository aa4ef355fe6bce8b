/**
 * What a built app says it is: `DIR/version.json`, as `deploy-notify stamp` and the build
 * plugins write it. The build decides the version once; `notify --dist`, `prune` and a second
 * `stamp` read it back from here instead of being told again (and told something else).
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { followsRule } from '../contract/fields.js'

export interface BuiltVersion {
  version: string
  app: string
  /** The file it was read from. */
  path: string
}

/** The file is missing, unreadable, or does not name a valid version and app; the message says which. */
export class BuiltVersionError extends Error {
  override name = 'BuiltVersionError'
}

/** Reads `dir/version.json`; undefined when there is none (a build not stamped yet). */
export async function readBuiltVersion(dir: string): Promise<BuiltVersion | undefined> {
  const path = join(dir, 'version.json')
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new BuiltVersionError(`cannot read ${path}: ${(error as Error).message}`)
  }
  let value: { version?: unknown; app?: unknown }
  try {
    value = JSON.parse(text) as typeof value
  } catch {
    throw new BuiltVersionError(`${path} is not JSON: it is not a version.json that deploy-notify wrote`)
  }
  if (!followsRule('version', value?.version) || !followsRule('app', value.app))
    throw new BuiltVersionError(
      `${path} names no valid version and app: it is not a version.json that deploy-notify wrote`,
    )
  return { version: value.version as string, app: value.app as string, path }
}

/**
 * `dir/version.json`, which must be there: the build (a plugin) or `stamp` writes it.
 * `option` names what pointed at `dir`, for the message.
 */
export async function requireBuiltVersion(dir: string, option: string): Promise<BuiltVersion> {
  const built = await readBuiltVersion(dir)
  if (built === undefined)
    throw new BuiltVersionError(
      `${join(dir, 'version.json')} does not exist (${option} ${dir}): stamp the build first ("deploy-notify stamp", or the deploy-notify/vite or deploy-notify/webpack plugin)`,
    )
  return built
}

/**
 * Refuses a value given on the command line that disagrees with what the build says (`why`
 * ends the sentence): the pages carry the build's version, so announcing another would never
 * show them a banner.
 */
export function checkAgainstBuild(built: BuiltVersion, given: { version?: string; app?: string }, why: string): void {
  for (const field of ['version', 'app'] as const) {
    const value = given[field]
    if (value !== undefined && value !== built[field])
      throw new BuiltVersionError(
        `--${field} "${value}" disagrees with ${built.path}, which says ${field} "${built[field]}"${why}`,
      )
  }
}
