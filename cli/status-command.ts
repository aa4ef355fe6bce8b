import type { AppStatus, Status } from '../server/status.js'
import { ask, describeAnswer, describeNetworkError, sidecarEndpoint, sleep } from './sidecar-request.js'
import { readCommandLine, UsageError } from './command-line.js'
import { EXIT } from './exit-codes.js'

export const statusHelp = `Usage: deploy-notify status --url URL [--app NAME] [--json]

Shows what the sidecar's /status says: for each app, the current version, how long ago it was
deployed, and how many pages are open, in total and by the version they run. Every open tab is
a page, also the tabs that share one stream to the sidecar. Counts that may miss pages (a
replica stopped reporting) are marked "incomplete", with why, below the table.

  --url URL   the sidecar's base URL, path prefix included (/status is appended)
  --app NAME  only this app
  --json      print the JSON of /status (only that app's entry with --app) instead of a table
  -h, --help  show this help

Exit codes:
  ${EXIT.done}  shown
  ${EXIT.refused}  the sidecar answered, but not 200 with a status
  ${EXIT.usage}  usage error
  ${EXIT.unreachable}  unreachable: no answer, also after one retry
`

const ATTEMPT_TIMEOUT_MS = 5_000
const RETRY_DELAY_MS = 500

/** `/status` as a program reads it: the status, a refusal (any other answer), or no answer. */
export type StatusAnswer =
  | { kind: 'status'; status: Status }
  | { kind: 'refused'; httpStatus: number; reason: string }
  | { kind: 'unreachable'; reason: string }

/** One GET of `/status`. Only a usage problem (a port fetch refuses) throws. */
export async function readStatus(endpoint: URL, timeoutMs: number): Promise<StatusAnswer> {
  try {
    const answer = await ask(endpoint, { headers: { accept: 'application/json' } }, timeoutMs)
    if (answer.status !== 200)
      return { kind: 'refused', httpStatus: answer.status, reason: `${answer.status} ${describeAnswer(answer)}` }
    const { apps, time } = answer.body
    if (typeof apps !== 'object' || apps === null || typeof time !== 'string') {
      return { kind: 'refused', httpStatus: 200, reason: `200 but not a deploy-notify status; is --url the sidecar?` }
    }
    return { kind: 'status', status: answer.body as unknown as Status }
  } catch (error) {
    return { kind: 'unreachable', reason: describeNetworkError(error) }
  }
}

/** `deploy-notify status`: resolves to the exit code; throws UsageError on a bad command line. */
export async function status(args: string[], _env: NodeJS.ProcessEnv): Promise<number> {
  const options = { url: { type: 'string' }, app: { type: 'string' }, json: { type: 'boolean' } } as const
  const values = readCommandLine(args, options, statusHelp)
  if (!values) return EXIT.done
  if (values.url === undefined) throw new UsageError(`status needs --url\n\n${statusHelp}`)
  const endpoint = sidecarEndpoint(values.url, '/status')

  // A sidecar restarting behind a proxy is back within a moment; one retry covers that.
  let answer = await readStatus(endpoint, ATTEMPT_TIMEOUT_MS)
  if (answer.kind === 'unreachable') {
    await sleep(RETRY_DELAY_MS)
    answer = await readStatus(endpoint, ATTEMPT_TIMEOUT_MS)
  }
  if (answer.kind === 'unreachable') {
    process.stderr.write(`deploy-notify: could not reach ${endpoint} (2 attempts); last error: ${answer.reason}\n`)
    return EXIT.unreachable
  }
  if (answer.kind === 'refused') {
    process.stderr.write(`deploy-notify: ${endpoint} answered ${answer.reason}\n`)
    return EXIT.refused
  }

  const { apps, time } = answer.status
  const selected = values.app === undefined ? apps : pick(apps, values.app)
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ apps: selected, time }, null, 2)}\n`)
    return EXIT.done
  }
  const names = values.app === undefined ? Object.keys(selected) : [values.app]
  if (names.length === 0) {
    process.stdout.write('No app yet: no deploy was notified and no page is open.\n')
    return EXIT.done
  }
  const rows = names.map((name) => appRow(name, selected[name] ?? emptyApp, Date.parse(time)))
  process.stdout.write(table([['APP', 'VERSION', 'DEPLOYED', 'PAGES', 'BY VERSION'], ...rows]))
  for (const name of names) {
    const app = selected[name]
    if (app?.pagesComplete === false)
      process.stdout.write(`${name}: the page counts are incomplete: ${app.pagesIncomplete ?? 'no reason given'}\n`)
  }
  return EXIT.done
}

const noPages = { total: 0, versions: {} }
const emptyApp: AppStatus = { current: null, history: [], pages: noPages, streams: noPages, samples: [] }

/** The open pages of an app; a sidecar older than 0.2 calls them `streams`. */
export const openPages = (app: Partial<Pick<AppStatus, 'pages'>> & Pick<AppStatus, 'streams'>): AppStatus['pages'] =>
  app.pages ?? app.streams

function pick(apps: Record<string, AppStatus>, name: string): Record<string, AppStatus> {
  return Object.hasOwn(apps, name) ? Object.fromEntries([[name, apps[name]!]]) : {}
}

function appRow(name: string, app: AppStatus, now: number): string[] {
  const { current } = app
  const pages = openPages(app)
  const byVersion = Object.entries(pages.versions)
    .sort(([, a], [, b]) => b - a)
    .map(([version, count]) => `${version}: ${count}`)
    .join(', ')
  const deployed = current ? ago(now - Date.parse(current.time)) : '-'
  const total = app.pagesComplete === false ? `${pages.total} (incomplete)` : String(pages.total)
  return [name, current?.version ?? '-', deployed, total, byVersion]
}

/** "45s ago", "12m ago", "3h 20m ago", "4d ago": the sidecar's clock on both ends, so no skew. */
export function ago(ms: number): string {
  const seconds = Math.max(0, Math.floor(ms / 1000))
  if (seconds < 60) return `${seconds}s ago`
  const minutes = Math.floor(seconds / 60)
  if (minutes < 60) return `${minutes}m ago`
  const hours = Math.floor(minutes / 60)
  if (hours < 48) return `${hours}h ${minutes % 60}m ago`
  return `${Math.floor(hours / 24)}d ago`
}

/** Columns padded to their widest cell; the last one is not, so lines carry no trailing spaces. */
function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)))
  return (
    rows
      .map((row) =>
        row
          .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!)))
          .join('  ')
          .trimEnd(),
      )
      .join('\n') + '\n'
  )
}
