import { lstat, realpath, stat, unlink } from 'node:fs/promises'
import {
  BuiltVersionError,
  checkAgainstBuild,
  requireBuiltVersion,
  type BuiltVersion,
} from '../build-time/built-version.js'
import { join } from 'node:path'
import { ManifestError, MANIFEST_FOLDER, manifestFileName, readManifests } from '../build-time/version-manifest.js'
import { followsRule, fields } from '../contract/fields.js'
import type { AppStatus } from '../server/status.js'
import { readCommandLine, UsageError } from './command-line.js'
import { parseDuration } from './duration.js'
import { EXIT } from './exit-codes.js'
import { planPrune, type PrunePlan } from './prune-plan.js'
import { sidecarEndpoint, sleep } from './sidecar-request.js'
import { readStatus } from './status-command.js'
import { deleteRecordedFile, regularFileInside, removeEmptyFolders } from './web-root.js'

export const pruneHelp = `Usage: deploy-notify prune --dir DIR --url URL [--app NAME] [--keep-for DURATION] [--dry-run]

Deletes from the web root DIR, where each deploy's build was copied over the last without
deleting, the files that belong only to versions no open page runs any more. Each build lists
its files in DIR/.deploy-notify/versions/<version>.json (written by "deploy-notify stamp" and
the build plugins). The sidecar's /status says which versions are current and open.

Kept: the current version, the one DIR/version.json names, every version an open page runs,
any built after the current deploy (a deploy in progress) and, with --keep-for, any that was
current within that time (a page on a laptop that was asleep has no stream to be counted by,
though its lazy chunks are still to load); every file a kept version lists;
index.html and version.json; any file no manifest lists, or whose content is not what an old
build recorded; anything behind a symlink. Nothing at all is deleted while a page reports no
version, the sidecar sums versions as "other", a kept version has no manifest, or a manifest
cannot be read; and prune refuses (exit ${EXIT.refused}) while the sidecar's counts of open pages are
incomplete (a replica stopped reporting). The manifests of deleted versions go last.

  --dir DIR             the web root (what nginx serves)
  --url URL             the sidecar's base URL, path prefix included (/status is appended)
  --app NAME            the app served from DIR (default: the app DIR/version.json names;
                        one that disagrees with it is refused)
  --keep-for DURATION   also keep versions current within this time: 30m, 12h, 7d
  --dry-run             print what would be deleted, and delete nothing
  -h, --help            show this help

Exit codes:
  ${EXIT.done}  done (also when nothing could be deleted; the output says why)
  ${EXIT.refused}  refused: DIR holds no readable manifests or version.json, the sidecar knows no
     such app or no current version, its counts of open pages are incomplete, or a file could
     not be deleted
  ${EXIT.usage}  usage error
  ${EXIT.unreachable}  unreachable: no answer from the sidecar (nothing was deleted)
`

const ATTEMPT_TIMEOUT_MS = 5_000
const RETRY_DELAY_MS = 500

/** Refused before anything is deleted: exit 1 with the message. */
class Refusal extends Error {}

/** `deploy-notify prune`: resolves to the exit code; throws UsageError on a bad command line. */
export async function prune(args: string[], _env: NodeJS.ProcessEnv): Promise<number> {
  const string = { type: 'string' } as const
  const values = readCommandLine(
    args,
    { dir: string, url: string, app: string, 'keep-for': string, 'dry-run': { type: 'boolean' } },
    pruneHelp,
  )
  if (!values) return EXIT.done
  const { dir, url } = values
  const dryRun = values['dry-run'] === true
  if (dir === undefined || url === undefined) throw new UsageError(`prune needs --dir and --url\n\n${pruneHelp}`)
  if (values.app !== undefined && !followsRule('app', values.app))
    throw new UsageError(`--app "${values.app}" ${fields.app.rule}`)
  const label = values['keep-for']
  const keepFor = label === undefined ? undefined : { ms: parseDuration(label, '--keep-for'), label }
  const endpoint = sidecarEndpoint(url, '/status')
  try {
    const root = await webRoot(dir)
    // Manifests read through a symlink could be another web root's.
    for (const part of ['.deploy-notify', MANIFEST_FOLDER]) {
      if ((await lstat(join(root, part)).catch(() => undefined))?.isSymbolicLink())
        throw new Refusal(`${join(root, part)} is a symlink: prune reads manifests from the web root itself only`)
    }
    const manifests = await readManifests(root)
    if (manifests.length === 0)
      throw new Refusal(
        `${join(root, MANIFEST_FOLDER)} holds no manifest: stamp builds before copying them (see --help)`,
      )
    const served = await servedBuild(root)
    const app = values.app ?? served.app
    const foreign = manifests.find((m) => m.app !== app)
    if (foreign)
      throw new Refusal(`${manifestFileName(foreign.version)} records app "${foreign.app}", not "${app}": check --app`)
    checkAgainstBuild(served, { app }, ': check --app')
    // Asked last, so the counts are as fresh as they can be when files go.
    const status = await appStatus(endpoint, app)
    if (status === undefined) return EXIT.unreachable
    const plan = planPrune({
      manifests,
      status,
      served: served.version,
      keepFor: keepFor && { ...keepFor, now: Date.now() },
    })
    return await carryOut(root, app, plan, dryRun)
  } catch (error) {
    if (!(error instanceof Refusal || error instanceof ManifestError || error instanceof BuiltVersionError)) throw error
    process.stderr.write(`deploy-notify: ${error.message}; nothing was deleted\n`)
    return EXIT.refused
  }
}

async function webRoot(dir: string): Promise<string> {
  const root = await realpath(dir).catch(() => undefined)
  if (root === undefined || !(await stat(root)).isDirectory()) throw new Refusal(`${dir} is not a folder (--dir)`)
  return root
}

/** The version the web root serves and its app, from its version.json: what is live even if the notify failed. */
async function servedBuild(root: string): Promise<BuiltVersion> {
  try {
    return await requireBuiltVersion(root, '--dir')
  } catch (error) {
    if (!(error instanceof BuiltVersionError)) throw error
    throw new Refusal(`${error.message}; prune cannot tell what is live`)
  }
}

/** The app's entry of `/status`; undefined (after saying why) when the sidecar cannot be asked. */
async function appStatus(endpoint: URL, app: string): Promise<Parameters<typeof planPrune>[0]['status'] | undefined> {
  // A sidecar restarting behind a proxy is back within a moment; one retry covers that.
  let answer = await readStatus(endpoint, ATTEMPT_TIMEOUT_MS)
  if (answer.kind !== 'status' && !(answer.kind === 'refused' && answer.httpStatus < 500)) {
    await sleep(RETRY_DELAY_MS)
    answer = await readStatus(endpoint, ATTEMPT_TIMEOUT_MS)
  }
  if (answer.kind === 'refused' && answer.httpStatus < 500) throw new Refusal(`${endpoint} answered ${answer.reason}`)
  if (answer.kind !== 'status') {
    process.stderr.write(
      `deploy-notify: could not reach ${endpoint} (2 attempts; last: ${answer.reason}): without the counts of open pages, nothing was deleted\n`,
    )
    return undefined
  }
  const entry: AppStatus | undefined = Object.hasOwn(answer.status.apps, app) ? answer.status.apps[app] : undefined
  if (entry === undefined) throw new Refusal(`the sidecar knows no app "${app}" (no deploy, no open page): check --app`)
  if (entry.current === null) throw new Refusal(`app "${app}" has no current version yet: notify the deploy first`)
  // Pages the sidecar cannot count now may run any version.
  if (entry.pagesComplete === false)
    throw new Refusal(
      `the sidecar's counts of open pages of app "${app}" are incomplete (${entry.pagesIncomplete ?? 'no reason given'}), so any version may still be open; try again in a minute`,
    )
  return { ...entry, current: entry.current }
}

/** Deletes (or, dry, lists) the plan's files, then the manifests of the versions fully gone. */
async function carryOut(root: string, app: string, plan: PrunePlan, dryRun: boolean): Promise<number> {
  const out = (line: string) => process.stdout.write(`${line}\n`)
  for (const [version, reasons] of plan.kept) out(`keep   "${version}": ${reasons.join('; ')}`)
  for (const manifest of plan.prunable) out(`prune  "${manifest.version}": no open page runs it`)
  if (plan.blocked) {
    out(`deploy-notify: nothing deleted in ${root}: ${plan.blocked}`)
    return EXIT.done
  }
  const verb = dryRun ? 'would delete' : 'deleted'
  let freed = 0
  let count = 0
  const gone: string[] = []
  const failed = new Set<string>()
  for (const [path, records] of [...plan.files].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const outcome = await deleteRecordedFile(root, path, records, dryRun)
    if (outcome.kind === 'deleted') {
      out(`${verb} ${path} (${bytes(outcome.size)})`)
      freed += outcome.size
      count++
      gone.push(path)
    } else if (outcome.kind === 'kept') out(`kept ${path}: ${outcome.reason}`)
    else if (outcome.kind === 'failed') {
      process.stderr.write(`deploy-notify: cannot delete ${path}: ${outcome.reason}\n`)
      failed.add(path)
    }
  }
  if (!dryRun) await removeEmptyFolders(root, gone)
  // Last, so that a run cut short leaves every file it did not delete attributable.
  for (const manifest of plan.prunable) {
    if (Object.keys(manifest.files).some((path) => failed.has(path))) continue
    const path = `${MANIFEST_FOLDER}/${manifestFileName(manifest.version)}`
    const found = await regularFileInside(root, path)
    if (!('path' in found)) continue
    try {
      if (!dryRun) await unlink(found.path)
    } catch (error) {
      process.stderr.write(`deploy-notify: cannot delete ${path}: ${(error as Error).message}\n`)
      failed.add(path)
      continue
    }
    out(`${verb} ${path} (${bytes(found.size)})`)
    freed += found.size
    count++
  }
  const versions = plan.prunable.map((m) => `"${m.version}"`).join(', ') || 'none'
  const summary = `${count} file${count === 1 ? '' : 's'} of app "${app}" (old versions: ${versions}) in ${root}`
  out(`deploy-notify: ${verb} ${summary}, ${dryRun ? 'which would free' : 'freed'} ${bytes(freed)}`)
  if (failed.size === 0) return EXIT.done
  process.stderr.write(`deploy-notify: ${failed.size} file(s) could not be deleted; run prune again once fixed\n`)
  return EXIT.refused
}

/** 1234 -> `1.2 kB` (SI, as du --si and most CI logs print it). */
function bytes(n: number): string {
  if (n < 1000) return `${n} B`
  const units = ['kB', 'MB', 'GB', 'TB']
  let value = n
  let unit = -1
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000
    unit++
  }
  return `${value.toFixed(1)} ${units[unit]}`
}
