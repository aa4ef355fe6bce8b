/**
 * Backoff: "equal jitter" over an exponential window, capped (AWS Architecture Blog): the
 * n-th retry comes after a random time in [2^(n-2), 2^(n-1)] s, at most [15, 30] s. Spread
 * out, yet never at full rate, even against a host that is no sidecar at all.
 */
const BASE_MS = 1000
const CAP_MS = 60_000
/** Consecutive failures after which the stream is not to be relied on: poll as well. */
const FAILURES_BEFORE_POLLING = 3

/**
 * The sidecar's current deploy or the app's version.json as text, or undefined when there is
 * none or the server is away.
 */
export const fetchVersion = (url: string): Promise<string | undefined> =>
  // no-cache: the browser revalidates (If-None-Match, If-Modified-Since), with no header of ours
  // (no preflight) and no query that would pass a CDN's cache.
  fetch(url, { cache: 'no-cache' }).then(
    (response) => (response.ok ? response.text() : undefined),
    () => undefined,
  )

/**
 * Holds the event stream and passes each event's data on, until `signal` aborts. When a
 * healthy stream drops, the EventSource reconnects by itself after the server's `retry:` hint
 * (HTML "Server-sent events": "reestablish the connection"), which the sidecar jitters so the
 * pages of a restarted sidecar come back spread out. Every other error is handled here: unlike
 * a bare EventSource, which gives up for good on an HTTP error status or a wrong content type
 * ("fail the connection"), it reconnects with backoff, and while the stream keeps failing it
 * calls `pollOnce` every `pollMs` too (the sidecar's `/version`, else the app's version.json).
 */
export function openStream(
  eventsUrl: string,
  pollOnce: () => void,
  pollMs: number,
  send: (data: string) => void,
  signal: AbortSignal,
): void {
  let source: EventSource
  /** Errors in a row; -1 while a stream is open, whose drop is left to the browser's retry. */
  let failures = 0
  let retry: ReturnType<typeof setTimeout>
  let poll: ReturnType<typeof setInterval> | undefined
  const relay = (event: MessageEvent<string>) => send(event.data)
  const connect = () => {
    source = new EventSource(eventsUrl)
    for (const type of ['version', 'deploy']) source.addEventListener(type, relay)
    source.onopen = () => {
      failures = -1
      clearInterval(poll)
    }
    source.onerror = () => {
      // An open stream dropped and the EventSource is CONNECTING (0): it retries after the
      // hint. Only that once: if the attempt fails too (the sidecar still away), or the
      // browser gave up (CLOSED), the backoff below takes over.
      if (failures++ < 0 && !source.readyState) return
      source.close()
      retry = setTimeout(connect, (Math.min(CAP_MS, BASE_MS * 2 ** failures) * (1 + Math.random())) / 4)
      // Once per run of failures: only an open stream resets the count and stops the polling.
      if (failures === FAILURES_BEFORE_POLLING) {
        pollOnce()
        poll = setInterval(pollOnce, pollMs)
      }
    }
  }
  connect()
  signal.addEventListener('abort', () => {
    source.close()
    clearTimeout(retry)
    clearInterval(poll)
  })
}
