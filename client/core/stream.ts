/** Backoff window: full jitter over an exponential window, capped (AWS Architecture Blog). */
const BASE_MS = 1000
const CAP_MS = 30_000
/** Consecutive failures after which the stream is not to be relied on: poll as well. */
const FAILURES_BEFORE_POLLING = 3

/** The current deploy as JSON text, or undefined when none is known or the sidecar is away. */
export const fetchVersion = (url: string): Promise<string | undefined> =>
  // no-cache: the browser revalidates with If-None-Match, with no header of ours (no preflight).
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
 * polls `/version` too (not while the tab is hidden).
 */
export function openStream(
  eventsUrl: string,
  versionUrl: string,
  pollMs: number,
  send: (data: string) => void,
  signal: AbortSignal,
): void {
  let source: EventSource
  /** Errors in a row; -1 while a stream is open, whose drop is left to the browser's retry. */
  let failures = 0
  let retry: ReturnType<typeof setTimeout>
  let poll: ReturnType<typeof setInterval> | undefined
  const pollOnce = () => document.hidden || void fetchVersion(versionUrl).then((data) => data && send(data))
  const relay = (event: MessageEvent<string>) => send(event.data)
  const connect = () => {
    source = new EventSource(eventsUrl)
    source.addEventListener('version', relay)
    source.addEventListener('deploy', relay)
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
      retry = setTimeout(connect, Math.random() * Math.min(CAP_MS, BASE_MS * 2 ** (failures - 1)))
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
