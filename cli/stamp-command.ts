import { readFile, stat } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { gitCommit, nearestPackage } from '../build-time/version-source.js'
import { BuiltVersionError, readBuiltVersion, type BuiltVersion } from '../build-time/built-version.js'
import { manifestFileName } from '../build-time/version-manifest.js'
import { replaceFile, WriteError } from '../build-time/replace-file.js'
import {
  checkApp,
  checkBuildFolder,
  MANIFEST_FOLDER,
  checkVersion,
  clientUrl,
  ManifestError,
  recordVersion,
  StampError,
  stampHtml,
  versionJson,
  type VersionInfo,
} from '../build-time/stamp.js'
import { readCommandLine, UsageError } from './command-line.js'
import { EXIT } from './exit-codes.js'

export const stampHelp = `Usage: deploy-notify stamp --dist DIR [--version V] [--app NAME] [--sidecar URL]

Writes the version into a built app, after the build and before the upload: DIR/version.json,
and data-version (and data-app) on the client's script tag (<script src=".../client.js">) in
DIR/index.html. The rest of index.html is left as it is. Then it records every file of the build
with its size and SHA-256 in DIR/.deploy-notify/versions/V.json, for "deploy-notify prune".
Running it again changes nothing, and so does stamping a build that a build plugin
(deploy-notify/vite, deploy-notify/webpack) already stamped with the same version.

  --dist DIR       the built app, holding index.html (e.g. dist)
  --version V      the version to stamp, the same one CI then notifies
                   (default: git rev-parse --short HEAD of the current folder)
  --app NAME       sets data-app (default: the tag's own data-app, else "default")
  --sidecar URL    the sidecar's base URL, path prefix included, or a path on the app's
                   origin (/deploy-notify): sets the tag's src to URL/client.js, and inserts
                   the tag before </head> when index.html has none
  -h, --help       show this help

Exit codes:
  ${EXIT.done}  stamped (or already stamped)
  ${EXIT.refused}  DIR or DIR/index.html is missing, or index.html has no client tag (or several),
     or DIR was already stamped with another version or app (by a build plugin, say),
     or DIR holds other versions' manifests (a web root, or a build folder never emptied)
  2  usage error
`

/** `deploy-notify stamp`: resolves to the exit code; throws UsageError on a bad command line. */
export async function stamp(args: string[], _env: NodeJS.ProcessEnv): Promise<number> {
  const string = { type: 'string' } as const
  const values = readCommandLine(args, { dist: string, version: string, app: string, sidecar: string }, stampHelp)
  if (!values) return EXIT.done
  if (values.dist === undefined) throw new UsageError(`stamp needs --dist\n\n${stampHelp}`)
  const version = values.version ?? (await defaultVersion())
  try {
    // Bad values are the command line's fault: exit 2, before any file is looked at.
    checkVersion(version)
    if (values.app !== undefined) checkApp(values.app)
    if (values.sidecar !== undefined) clientUrl(values.sidecar)
  } catch (error) {
    throw new UsageError((error as Error).message)
  }
  try {
    const result = await stampDist({ dist: values.dist, version, app: values.app, sidecar: values.sidecar })
    const what = result.changed.length > 0 ? `stamped ${list(result.changed)}` : 'already stamped'
    process.stdout.write(`deploy-notify: ${what}: app "${result.app}" version "${version}" in ${result.dist}\n`)
    return EXIT.done
  } catch (error) {
    if (!(error instanceof StampError)) throw error
    process.stderr.write(`deploy-notify: ${error.message}\n`)
    return EXIT.refused
  }
}

/** `a`, `a and b`, `a, b and c`. */
const list = (items: string[]): string =>
  items.length < 2 ? items.join('') : `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`

async function defaultVersion(): Promise<string> {
  try {
    return await gitCommit(process.cwd())
  } catch (error) {
    throw new UsageError(`--version is needed: ${(error as Error).message}`)
  }
}

export interface StampDistOptions {
  dist: string
  version: string
  app?: string | undefined
  sidecar?: string | undefined
  /** Stamping time; now by default. */
  now?: Date
}

export interface StampDistResult {
  /** The absolute folder. */
  dist: string
  app: string
  /** The files that were rewritten: `index.html`, `version.json`, the manifest; none when already stamped. */
  changed: string[]
}

/**
 * Stamps DIR/index.html and writes DIR/version.json. Both texts are made (and every check done)
 * before either file is touched, and each is replaced by rename, so a reader (or nginx) sees
 * the old file or the new one, never a part. Last, the build's manifest lists every file as
 * stamped.
 */
export async function stampDist(options: StampDistOptions): Promise<StampDistResult> {
  const dist = resolve(options.dist)
  const folder = await stat(dist).catch(() => undefined)
  if (!folder?.isDirectory()) throw new StampError(`${dist} is not a folder (--dist): build the app first`)
  const indexPath = join(dist, 'index.html')
  const versionPath = join(dist, 'version.json')
  const html = await readFile(indexPath, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') throw new StampError(`${indexPath} does not exist: is ${dist} the built app?`)
    throw new StampError(`cannot read ${indexPath}: ${error.message}`)
  })
  // A build a plugin stamped as it built: the same version is a no-op (its index.html may have
  // no tag, for apps that import the client), another version a conflict only the team can settle.
  const built = await stampedBuild(dist)
  if (built) refuseAnotherStamp(built, options)
  const ifMissing = built?.version === options.version ? 'skip' : 'fail'
  const stampOptions = { version: options.version, app: options.app, sidecar: options.sidecar, ifMissing } as const
  const stamped = stampHtml(html, stampOptions, indexPath)
  const previous = await readFile(versionPath, 'utf8').catch(() => undefined)
  const packageVersion = (await nearestPackage(dirname(dist)))?.version
  const time = (options.now ?? new Date()).toISOString()
  // What a plugin wrote stays: it knew the app's package, which a folder elsewhere may not show.
  const json =
    built && previous !== undefined
      ? previous
      : versionJson({ version: options.version, app: stamped.app, time, packageVersion }, previous)
  const stampedTime = (JSON.parse(json) as VersionInfo).time
  // The tag also says when the build was made, as version.json does: the page never offers an older build.
  const page =
    stamped.tag === 'missing' ? stamped : stampHtml(html, { ...stampOptions, buildTime: stampedTime }, indexPath)

  await asStampError(checkBuildFolder(dist, options.version))

  const changed: string[] = []
  if (page.html !== html) {
    await asStampError(replaceFile(indexPath, page.html))
    changed.push('index.html')
  }
  if (json !== previous) {
    await asStampError(replaceFile(versionPath, json))
    changed.push('version.json')
  }
  // The list a plugin made of its build stays as it is: it names the build's own files only,
  // where a listing of the folder would also claim what an older build left in it.
  if (built && changed.length === 0) return { dist, app: stamped.app, changed }
  const manifest = await asStampError(
    recordVersion(dist, { version: options.version, app: stamped.app, time: stampedTime }),
  )
  if (manifest.changed) changed.push(manifest.path)
  return { dist, app: stamped.app, changed }
}

/** The version and app DIR was stamped with, when it was (its version.json and that version's manifest). */
async function stampedBuild(dist: string): Promise<BuiltVersion | undefined> {
  // A version.json that is not ours, or broken, is replaced, as before.
  const built = await readBuiltVersion(dist).catch((error: unknown) => {
    if (error instanceof BuiltVersionError) return undefined
    throw error
  })
  if (built === undefined) return undefined
  const manifest = join(dist, MANIFEST_FOLDER, manifestFileName(built.version))
  return (await stat(manifest).catch(() => undefined))?.isFile() ? built : undefined
}

/**
 * The build decides the version once. A plugin that stamped one version and a CI step that
 * stamps another would leave pages and announcements disagreeing, and no banner would show.
 */
function refuseAnotherStamp(built: BuiltVersion, options: StampDistOptions): void {
  const field =
    built.version !== options.version
      ? 'version'
      : options.app !== undefined && built.app !== options.app
        ? 'app'
        : undefined
  if (field === undefined) return
  const asked = field === 'version' ? options.version : options.app
  throw new StampError(
    `${built.path} says this build was already stamped with ${field} "${built[field]}", not "${asked}": ` +
      `most likely by the deploy-notify/vite or deploy-notify/webpack plugin, which stamps as it builds. ` +
      `The build decides the version once: drop this stamp step and announce the build with ` +
      `"deploy-notify notify --dist ${options.dist}", or give the plugin the ${field} you mean. ` +
      `If no plugin runs, this folder was stamped before (a web root, or a build folder never emptied): ` +
      `stamp a build before copying it`,
  )
}

/** A file that cannot be written, or a folder that must not be listed, is a refusal (exit 1), not a bug. */
async function asStampError<T>(work: Promise<T>): Promise<T> {
  try {
    return await work
  } catch (error) {
    if (error instanceof ManifestError || error instanceof WriteError) throw new StampError(error.message)
    throw error
  }
}
