import {
  BuiltVersionError,
  checkAgainstBuild,
  requireBuiltVersion,
  type BuiltVersion,
} from '../build-time/built-version.js'
import { readTokenFile, tokenPath } from '../server/notify-token.js'
import { ask, describeAnswer, describeNetworkError, sidecarEndpoint, sleep, type Answer } from './sidecar-request.js'
import { readCommandLine, UsageError } from './command-line.js'
import { EXIT } from './exit-codes.js'
import { parseDuration } from './duration.js'
import { versionJsonUrl, waitUntilLive } from './wait-live.js'

/** Exit codes, so CI can tell "fix the request" (1) from "the sidecar is down" (3). */

export const notifyHelp = `Usage: deploy-notify notify --url URL (--dist DIR | --version V) [options]

Tells the sidecar that version V is deployed, so it pushes a deploy event to every open page.
With --dist, V and the app are the ones the build was stamped with (DIR/version.json).
The bearer token is read from NOTIFY_TOKEN; when it is unset, from the token a sidecar on this
host generated into DATA_DIR/notify-token (--data-dir, else DATA_DIR, else ./data, as for
serve). Network errors and 5xx answers are retried with backoff until --timeout.

  --url URL           the sidecar's base URL, path prefix included (/notify is appended)
  --dist DIR          the build that was deployed: version and app from DIR/version.json
                      (written by "deploy-notify stamp" or a build plugin); a --version or
                      --app that disagrees with it is refused (exit 1)
  --version V         the version now deployed, e.g. "$GIT_SHA" (without --dist)
  --app NAME          which app's channel (default: the build's with --dist, else "default")
  --message TEXT      shown to users in the update banner
  --notes-url URL     a link to the release notes, shown as "What's new" (http or https)
  --mandatory         users cannot postpone the reload
  --sequence N        build number; the sidecar refuses (409) one lower than the current
  --wait-live URL     first wait until URL serves V: the app's base URL (URL/version.json is
                      read) or the URL of its version.json; checked every second, bounded
                      by --timeout, and only then is the deploy announced
  --timeout DURATION  give up after this long: 500ms, 30s, 5m, 1h or seconds (default 60s);
                      with --wait-live, for the wait and then again for the notify
  --data-dir DIR      where a sidecar on this host keeps its generated token (default ./data)
  -h, --help          show this help

Exit codes:
  ${EXIT.done}  accepted (or the version was already current)
  ${EXIT.refused}  refused: a 4xx answer (wrong token, invalid field, stale sequence), or --dist
  ${EXIT.usage}  usage error
  ${EXIT.unreachable}  unreachable: network errors or 5xx until --timeout ran out
  ${EXIT.timeout}  --wait-live: URL did not serve V within --timeout (nothing was notified)
`

/** One attempt may not eat the whole budget, so a hung connection still leaves room to retry. */
const ATTEMPT_TIMEOUT_MS = 10_000
const FIRST_DELAY_MS = 250
const MAX_DELAY_MS = 5_000

/** `deploy-notify notify`: resolves to the exit code; throws UsageError on a bad command line. */
export async function notify(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const string = { type: 'string' } as const
  const options = {
    url: string,
    dist: string,
    version: string,
    app: string,
    message: string,
    'notes-url': string,
    'wait-live': string,
    sequence: string,
    timeout: string,
    'data-dir': string,
    mandatory: { type: 'boolean' },
  } as const
  const values = readCommandLine(args, options, notifyHelp)
  if (!values) return EXIT.done
  const { url, message, mandatory, sequence, dist, timeout = '60s' } = values
  if (url === undefined || (values.version === undefined && dist === undefined))
    throw new UsageError(`notify needs --url, and --dist or --version\n\n${notifyHelp}`)
  // Every usage error first, before any file is read or request made.
  const endpoint = sidecarEndpoint(url, '/notify')
  const timeoutMs = parseDuration(timeout)
  // The sidecar judges every field; only sequence must become a JSON number here.
  const sequenceNumber = sequence === undefined ? undefined : parseSequence(sequence)
  const live = values['wait-live'] === undefined ? undefined : versionJsonUrl(values['wait-live'])
  const token = await findToken(env, values['data-dir'])
  const announced = dist === undefined ? values : await fromBuild(dist, values)
  if (announced === undefined) return EXIT.refused
  const { version, app } = announced as { version: string; app?: string }

  const headers: Record<string, string> = { 'content-type': 'application/json' }
  if (token) headers.authorization = `Bearer ${token.value}`
  const notesUrl = values['notes-url']
  const body = JSON.stringify({ version, app, message, notesUrl, mandatory, sequence: sequenceNumber })
  // A redirect is reported, not followed: fetch would turn the POST into a GET or drop the token.
  const request: RequestInit = { method: 'POST', headers, body, redirect: 'manual' }
  if (live && !(await waitUntilLive(live, version, timeoutMs, timeout))) return EXIT.timeout
  const code = await announceDeploy(endpoint, request, timeout)
  if (code === EXIT.refused && token?.file)
    process.stderr.write(`deploy-notify: the token was read from ${token.file}\n`)
  return code
}

/**
 * The version and app the build in `dist` was stamped with; undefined (after saying why) when
 * it has none, or when the command line names another.
 */
async function fromBuild(dist: string, given: { version?: string; app?: string }): Promise<BuiltVersion | undefined> {
  try {
    const built = await requireBuiltVersion(dist, '--dist')
    checkAgainstBuild(
      built,
      given,
      ': the pages of that build carry its version, and a banner shows only for the version pages are told of; leave out --version and --app with --dist',
    )
    return built
  } catch (error) {
    if (!(error instanceof BuiltVersionError)) throw error
    process.stderr.write(`deploy-notify: ${error.message}; nothing was notified\n`)
    return undefined
  }
}

/**
 * NOTIFY_TOKEN, or the token a sidecar on this host generated into its DATA_DIR (the same
 * setting as for serve, so `npm start` then `deploy-notify notify` needs nothing else).
 */
async function findToken(
  env: NodeJS.ProcessEnv,
  dataDir: string | undefined,
): Promise<{ value: string; file?: string } | undefined> {
  // Empty counts as unset, as for the sidecar; whitespace would make fetch throw, not retry.
  if (env.NOTIFY_TOKEN) {
    if (/\s/.test(env.NOTIFY_TOKEN)) throw new UsageError('NOTIFY_TOKEN must not contain whitespace')
    return { value: env.NOTIFY_TOKEN }
  }
  const dir = dataDir ?? (env.DATA_DIR || './data')
  try {
    const value = await readTokenFile(dir)
    return value === undefined ? undefined : { value, file: tokenPath(dir) }
  } catch (error) {
    throw new UsageError((error as Error).message)
  }
}

/** Posts until the sidecar answers below 500 or --timeout runs out. */
async function announceDeploy(endpoint: URL, request: RequestInit, timeout: string): Promise<number> {
  const deadline = Date.now() + parseDuration(timeout)
  for (let attempt = 1; ; attempt++) {
    let failure: string
    try {
      const answer = await ask(endpoint, request, Math.max(1, Math.min(ATTEMPT_TIMEOUT_MS, deadline - Date.now())))
      if (answer.status < 500) return reportAnswer(answer)
      failure = `${answer.status} ${describeAnswer(answer)}`
    } catch (error) {
      failure = describeNetworkError(error)
    }
    // Exponential backoff, half of it random, so parallel pipelines do not retry in step.
    const delay = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2)
    if (Date.now() + delay >= deadline) {
      const attempts = `${attempt} attempt${attempt === 1 ? '' : 's'}`
      process.stderr.write(
        `deploy-notify: could not reach ${endpoint} within ${timeout} (${attempts}); last error: ${failure}\n`,
      )
      return EXIT.unreachable
    }
    process.stderr.write(`deploy-notify: attempt ${attempt} failed (${failure}); retrying in ${Math.round(delay)} ms\n`)
    await sleep(delay)
  }
}

function parseSequence(raw: string): number {
  const sequence = Number(raw)
  if (!/^-?\d+$/.test(raw) || !Number.isSafeInteger(sequence))
    throw new UsageError(`--sequence "${raw}" is not an integer`)
  return sequence
}

/** 202 and 200-unchanged are the sidecar's yes; anything else below 500 is a no that a retry cannot fix. */
function reportAnswer(answer: Answer): number {
  const { status, body } = answer
  const [app, version, id] = [body.app, body.version, body.id].map(String)
  if (status === 202 && typeof body.delivered === 'number') {
    const pages = `${body.delivered} open page${body.delivered === 1 ? '' : 's'}`
    process.stdout.write(
      `deploy-notify: deployed app "${app}" version "${version}" (id ${id}), delivered to ${pages}\n`,
    )
    return EXIT.done
  }
  if (status === 200 && body.unchanged === true) {
    process.stdout.write(`deploy-notify: unchanged: app "${app}" is already at version "${version}" (id ${id})\n`)
    return EXIT.done
  }
  process.stderr.write(`deploy-notify: the sidecar rejected the deploy: ${status} ${describeAnswer(answer)}\n`)
  return EXIT.refused
}
