import { OTHER_VERSIONS } from '../contract/pages.js'
import type { AppStatus } from '../server/status.js'
import { sidecarEndpoint, sleep } from './sidecar-request.js'
import { parseDuration } from './duration.js'
import { openPages, readStatus } from './status-command.js'
import { readCommandLine, UsageError } from './command-line.js'
import { EXIT } from './exit-codes.js'

/** Exit codes; 4 lets CI tell "still in use, keep the assets" from a broken call. */

export const waitDrainedHelp = `Usage: deploy-notify wait-drained --url URL --app NAME (--version V | --all-old) --timeout DURATION [--interval DURATION]

Waits until no open page of the app runs version V (with --all-old: any version other than the
current one), checking the sidecar's /status, so CI can then delete the old assets safely. Every
open tab is a page, also the tabs that share one stream to the sidecar; a page that closes
leaves the count within a few seconds. An unreachable sidecar, or a 5xx from a proxy in front
of it, is retried until --timeout.

  --url URL            the sidecar's base URL, path prefix included (/status is appended)
  --app NAME           the app whose pages to watch
  --version V          the version that must drain
  --all-old            every version other than the current one must drain
  --timeout DURATION   give up after this long: 500ms, 30s, 5m, 1h or seconds
  --interval DURATION  time between checks (default 5s)
  -h, --help           show this help

Pages that report no version count as "unknown": not V, but old for --all-old. Past the 20
most-run versions of an app the sidecar counts the rest as "other"; while V is not listed by
name, those pages may run it, so they keep the wait going. So do counts the sidecar marks
incomplete (a replica stopped reporting, or one client address claims more pages than it may
have counted): the wait goes on until they are complete again.

Exit codes:
  ${EXIT.done}  drained: no open page runs it
  ${EXIT.refused}  refused: the sidecar answered 4xx, knows no such app, or (--all-old) knows no current version
  ${EXIT.usage}  usage error
  ${EXIT.unreachable}  unreachable: no answer from the sidecar before --timeout
  ${EXIT.timeout}  timed out: pages still run it (the message says how many)
`

const DEFAULT_INTERVAL = '5s'
const MAX_ATTEMPT_MS = 10_000
/** The last check, at the deadline, still gets this long to be answered. */
const MIN_ATTEMPT_MS = 1_000

/** Which pages must be gone. */
type Target = { version: string } | { allOld: true }

/** The open pages that still hold up the wait, and how to say so. */
interface Holdouts {
  count: number
  description: string
}

/** `deploy-notify wait-drained`: resolves to the exit code; throws UsageError on a bad command line. */
export async function waitDrained(args: string[], _env: NodeJS.ProcessEnv): Promise<number> {
  const string = { type: 'string' } as const
  const options = {
    url: string,
    app: string,
    version: string,
    timeout: string,
    interval: string,
    'all-old': { type: 'boolean' },
  } as const
  const values = readCommandLine(args, options, waitDrainedHelp)
  if (!values) return EXIT.done
  const { url, app, version, timeout, interval = DEFAULT_INTERVAL } = values
  if (url === undefined || app === undefined || timeout === undefined) {
    throw new UsageError(`wait-drained needs --url, --app and --timeout\n\n${waitDrainedHelp}`)
  }
  if ((version === undefined) === (values['all-old'] !== true)) {
    throw new UsageError(`wait-drained needs either --version V or --all-old\n\n${waitDrainedHelp}`)
  }
  const target: Target = version === undefined ? { allOld: true } : { version }
  const timeoutMs = parseDuration(timeout)
  const intervalMs = parseDuration(interval, '--interval')
  const endpoint = sidecarEndpoint(url, '/status')
  const what = 'version' in target ? `version "${target.version}"` : 'an old version'

  const deadline = Date.now() + timeoutMs
  let last: Holdouts | undefined
  let failure: string | undefined
  for (;;) {
    const answer = await readStatus(endpoint, Math.min(MAX_ATTEMPT_MS, Math.max(MIN_ATTEMPT_MS, deadline - Date.now())))
    if (answer.kind === 'refused' && answer.httpStatus < 500) {
      process.stderr.write(`deploy-notify: ${endpoint} answered ${answer.reason}\n`)
      return EXIT.refused
    }
    if (answer.kind === 'status') {
      failure = undefined
      const entry = answer.status.apps[app]
      if (!Object.hasOwn(answer.status.apps, app) || entry === undefined) {
        // Nothing to wait for, but far more likely a typo than an app nobody ever deployed.
        process.stderr.write(
          `deploy-notify: the sidecar knows no app "${app}" (no deploy, no open page); check --app\n`,
        )
        return EXIT.refused
      }
      if ('allOld' in target && entry.current === null) {
        process.stderr.write(`deploy-notify: app "${app}" has no current version, so none is old; use --version\n`)
        return EXIT.refused
      }
      const holdouts = findHoldouts(entry, target)
      if (holdouts.count === 0) {
        const drained = 'version' in target ? what : `a version other than the current "${entry.current?.version}"`
        process.stdout.write(`deploy-notify: drained: no open page of app "${app}" runs ${drained}\n`)
        return EXIT.done
      }
      if (holdouts.description !== last?.description) {
        process.stderr.write(`deploy-notify: waiting: ${holdouts.description}\n`)
      }
      last = holdouts
    } else {
      const reason = answer.reason
      if (reason !== failure)
        process.stderr.write(`deploy-notify: cannot check (${reason}); retrying until the timeout\n`)
      failure = reason
    }
    const left = deadline - Date.now()
    if (left <= 0) break
    await sleep(Math.min(intervalMs, left))
  }

  if (last === undefined) {
    process.stderr.write(`deploy-notify: could not reach ${endpoint} within ${timeout}; last error: ${failure}\n`)
    return EXIT.unreachable
  }
  const since = failure === undefined ? '' : ` (at the last answer; since then: ${failure})`
  process.stderr.write(`deploy-notify: timed out after ${timeout}: ${last.description}${since}\n`)
  return EXIT.timeout
}

/** The pages of `app` that run the target version(s), by the sidecar's count. */
function findHoldouts(app: AppStatus, target: Target): Holdouts {
  const { current } = app
  const pages = (n: number) => `${n} open page${n === 1 ? '' : 's'}`
  const run = (n: number) => (n === 1 ? 'runs' : 'run')
  if (app.pagesComplete === false) {
    const why = app.pagesIncomplete ?? 'no reason given'
    return { count: Number.POSITIVE_INFINITY, description: `the counts of open pages are incomplete (${why})` }
  }
  const versions = Object.entries(openPages(app).versions)
  if ('version' in target) {
    const named = versions.find(([v]) => v === target.version)?.[1]
    if (named !== undefined)
      return { count: named, description: `${pages(named)} still ${run(named)} version "${target.version}"` }
    // Not listed by name: when the sidecar summed some versions, it may be among them.
    const other = versions.find(([v]) => v === OTHER_VERSIONS)?.[1] ?? 0
    const description = `${pages(other)} ${run(other)} versions counted as "${OTHER_VERSIONS}", which may include "${target.version}"`
    return { count: other, description }
  }
  const old = versions.filter(([v]) => v !== current?.version)
  const count = old.reduce((sum, [, n]) => sum + n, 0)
  const list = old.map(([v, n]) => `"${v}" (${n})`).join(', ')
  return {
    count,
    description: `${pages(count)} still ${run(count)} versions other than the current "${current?.version}": ${list}`,
  }
}
