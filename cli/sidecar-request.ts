import { UsageError } from './command-line.js'

/** What the sidecar (or whatever answers at --url) said to one request. */
export interface Answer {
  status: number
  body: Record<string, unknown>
  statusText: string
}

/** Endpoint paths are appended to the base URL (CONTRACT: "path prefix included"). */
export function sidecarEndpoint(raw: string, path: `/${string}`): URL {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    throw new UsageError(`--url "${raw}" is not a URL such as https://sidecar.example`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new UsageError(`--url "${raw}" must be http or https`)
  // fetch refuses URLs with credentials; the token belongs in NOTIFY_TOKEN anyway.
  if (url.username || url.password) throw new UsageError('--url must not contain credentials; use NOTIFY_TOKEN')
  url.pathname = `${url.pathname.replace(/\/+$/, '')}${path}`
  return url
}

/**
 * One request, bounded by `timeoutMs`, its answer parsed as JSON when it is JSON. With
 * `redirect: 'manual'` a redirect is reported as the answer, for the caller to refuse.
 */
export async function ask(url: URL, request: RequestInit, timeoutMs: number): Promise<Answer> {
  const response = await fetch(url, { ...request, signal: AbortSignal.timeout(timeoutMs) })
  const text = await response.text()
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    json = undefined // a proxy's HTML error page, say
  }
  const body = typeof json === 'object' && json !== null ? (json as Record<string, unknown>) : {}
  const location = response.headers.get('location')
  const endpoint = url.pathname.slice(url.pathname.lastIndexOf('/'))
  const statusText = location ? `redirect to ${location}; update --url (without ${endpoint})` : response.statusText
  return { status: response.status, body, statusText }
}

/** The sidecar's `{ error, message }` as one phrase, or the status text of whatever else answered. */
export function describeAnswer({ body, statusText }: Answer): string {
  if (typeof body.message !== 'string') return statusText || 'unexpected answer'
  return typeof body.error === 'string' ? `${body.error}: ${body.message}` : body.message
}

/**
 * fetch puts the reason in `cause` (ECONNREFUSED, ENOTFOUND, a reset while reading the answer);
 * a TypeError without one is a bug here, not something a retry fixes.
 */
export function describeNetworkError(error: unknown): string {
  if (error instanceof DOMException && error.name === 'TimeoutError') return 'no answer within the attempt timeout'
  if (!(error instanceof TypeError && error.cause instanceof Error)) throw error
  const cause = error.cause as Error & { code?: string }
  // The fetch spec blocks some ports (6000, 6667, ...); no retry will ever reach them.
  if (cause.message === 'bad port')
    throw new UsageError('fetch refuses the port of --url; run the sidecar on another port')
  return cause.message || cause.code || error.message
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
