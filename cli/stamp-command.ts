import { readFile, stat } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { gitCommit, nearestPackage } from '../build-time/version-source.js'
import { replaceFile, WriteError } from '../build-time/replace-file.js'
import {
  checkApp,
  checkBuildFolder,
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
Running it again changes nothing.

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
  const stamped = stampHtml(html, { version: options.version, app: options.app, sidecar: options.sidecar }, indexPath)
  const previous = await readFile(versionPath, 'utf8').catch(() => undefined)
  const packageVersion = (await nearestPackage(dirname(dist)))?.version
  const time = (options.now ?? new Date()).toISOString()
  const json = versionJson({ version: options.version, app: stamped.app, time, packageVersion }, previous)

  await asStampError(checkBuildFolder(dist, options.version))

  const changed: string[] = []
  if (stamped.html !== html) {
    await asStampError(replaceFile(indexPath, stamped.html))
    changed.push('index.html')
  }
  if (json !== previous) {
    await asStampError(replaceFile(versionPath, json))
    changed.push('version.json')
  }
  const stampedTime = (JSON.parse(json) as VersionInfo).time
  const manifest = await asStampError(
    recordVersion(dist, { version: options.version, app: stamped.app, time: stampedTime }),
  )
  if (manifest.changed) changed.push(manifest.path)
  return { dist, app: stamped.app, changed }
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
