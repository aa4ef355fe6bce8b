import { readTokenFile, tokenPath } from '../server/notify-token.js'
import { ask, describeAnswer, describeNetworkError, sidecarEndpoint, sleep, type Answer } from './sidecar-request.js'
import { readCommandLine, UsageError } from './command-line.js'
import { EXIT } from './exit-codes.js'
import { parseDuration } from './duration.js'
import { versionJsonUrl, waitUntilLive } from './wait-live.js'

/** Exit codes, so CI can tell "fix the request" (1) from "the sidecar is down" (3). */

export const notifyHelp = `Usage: deploy-notify notify --url URL --version V [options]

Tells the sidecar that version V is deployed, so it pushes a deploy event to every open page.
The bearer token is read from NOTIFY_TOKEN; when it is unset, from the token a sidecar on this
host generated into DATA_DIR/notify-token (--data-dir, else DATA_DIR, else ./data, as for
serve). Network errors and 5xx answers are retried with backoff until --timeout.

  --url URL           the sidecar's base URL, path prefix included (/notify is appended)
  --version V         the version now deployed, e.g. "$GIT_SHA"
  --app NAME          which app's channel (default: the sidecar's "default")
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
  ${EXIT.refused}  rejected by the sidecar (4xx: wrong token, invalid field, stale sequence)
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
  const { url, version, app, message, mandatory, sequence, timeout = '60s' } = values
  if (url === undefined || version === undefined)
    throw new UsageError(`notify needs --url and --version\n\n${notifyHelp}`)
  const headers: Record<string, string> = { 'content-type': 'application/json' }
  const token = await findToken(env, values['data-dir'])
  if (token) headers.authorization = `Bearer ${token.value}`
  // The sidecar judges every field; only sequence must become a JSON number here.
  const sequenceNumber = sequence === undefined ? undefined : parseSequence(sequence)
  const notesUrl = values['notes-url']
  const body = JSON.stringify({ version, app, message, notesUrl, mandatory, sequence: sequenceNumber })
  // A redirect is reported, not followed: fetch would turn the POST into a GET or drop the token.
  const request: RequestInit = { method: 'POST', headers, body, redirect: 'manual' }
  const endpoint = sidecarEndpoint(url, '/notify')
  if (values['wait-live'] !== undefined) {
    const live = versionJsonUrl(values['wait-live'])
    if (!(await waitUntilLive(live, version, parseDuration(timeout), timeout))) return EXIT.timeout
  }
  const code = await announceDeploy(endpoint, request, timeout)
  if (code === EXIT.refused && token?.file)
    process.stderr.write(`deploy-notify: the token was read from ${token.file}\n`)
  return code
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
