import { randomBytes } from 'node:crypto'
import { open, readFile, rename, stat, unlink } from 'node:fs/promises'
import { basename, dirname, join, resolve } from 'node:path'
import { gitCommit, nearestPackage } from '../build/version-source.js'
import { checkApp, checkVersion, clientUrl, StampError, stampHtml, versionJson } from '../build/stamp.js'
import { readCommandLine, UsageError } from './command-line.js'
import { EXIT } from './exit-codes.js'

export const stampHelp = `Usage: deploy-notify stamp --dist DIR [--version V] [--app NAME] [--sidecar URL]

Writes the version into a built app, after the build and before the upload: DIR/version.json,
and data-version (and data-app) on the client's script tag (<script src=".../client.js">) in
DIR/index.html. The rest of index.html is left as it is. Running it again changes nothing.

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
  ${EXIT.refused}  DIR or DIR/index.html is missing, or index.html has no client tag (or several)
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
    const what = result.changed.length > 0 ? `stamped ${result.changed.join(' and ')}` : 'already stamped'
    process.stdout.write(`deploy-notify: ${what}: app "${result.app}" version "${version}" in ${result.dist}\n`)
    return EXIT.done
  } catch (error) {
    if (!(error instanceof StampError)) throw error
    process.stderr.write(`deploy-notify: ${error.message}\n`)
    return EXIT.refused
  }
}

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
  /** The files that were rewritten: `index.html`, `version.json`; none when already stamped. */
  changed: string[]
}

/**
 * Stamps DIR/index.html and writes DIR/version.json. Both texts are made (and every check done)
 * before either file is touched, and each is replaced by rename, so a reader (or nginx) sees
 * the old file or the new one, never a part.
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

  const changed: string[] = []
  if (stamped.html !== html) {
    await replaceFile(indexPath, stamped.html)
    changed.push('index.html')
  }
  if (json !== previous) {
    await replaceFile(versionPath, json)
    changed.push('version.json')
  }
  return { dist, app: stamped.app, changed }
}

/** Temporary file beside it, fsync, rename over it, fsync the folder; keeps the file's mode (nginx must still read it). */
async function replaceFile(path: string, text: string): Promise<void> {
  const mode = (await stat(path).catch(() => undefined))?.mode ?? 0o644
  const temporary = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`)
  try {
    const file = await open(temporary, 'wx', mode & 0o7777)
    try {
      await file.writeFile(text)
      await file.chmod(mode & 0o7777) // open()'s mode passes through the umask
      await file.sync()
    } finally {
      await file.close()
    }
    await rename(temporary, path)
  } catch (error) {
    await unlink(temporary).catch(() => {})
    throw new StampError(`cannot write ${path}: ${(error as Error).message}`)
  }
  const folder = await open(dirname(path), 'r')
  try {
    await folder.sync()
  } finally {
    await folder.close()
  }
}
