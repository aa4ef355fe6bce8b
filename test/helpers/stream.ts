import { EventSource } from 'eventsource'
import { fetch } from 'undici'
import type { Deploy } from '../../contract/deploy.js'

export interface Received {
  type: string
  lastEventId: string
  data: Deploy
}

/**
 * A real, spec-following SSE client (the `eventsource` package) on `/events`, recording every
 * `version` and `deploy` event so tests can wait for one with a bound.
 */
export class Subscriber {
  readonly received: Received[] = []
  readonly source: EventSource
  #waiters: { match: (r: Received) => boolean; resolve: (r: Received) => void }[] = []

  private constructor(url: string, headers: Record<string, string>) {
    this.source = new EventSource(url, {
      fetch: (input, init) => fetch(input, { ...init, headers: { ...init.headers, ...headers } }),
    })
    for (const type of ['version', 'deploy']) {
      this.source.addEventListener(type, (event) => {
        const received = { type, lastEventId: event.lastEventId, data: JSON.parse(event.data) as Deploy }
        this.received.push(received)
        this.#waiters = this.#waiters.filter((w) => !(w.match(received) && (w.resolve(received), true)))
      })
    }
  }

  /** Opens a stream and resolves once the server answered with the event-stream head. */
  static async open(
    baseUrl: string,
    { app, version, headers = {} }: { app?: string; version?: string; headers?: Record<string, string> } = {},
  ): Promise<Subscriber> {
    const url = new URL(`${baseUrl}/events`)
    if (app !== undefined) url.searchParams.set('app', app)
    if (version !== undefined) url.searchParams.set('version', version)
    const subscriber = new Subscriber(url.href, headers)
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no open on ${url.href} within 5 s`)), 5000)
      subscriber.source.addEventListener('open', () => (clearTimeout(timer), resolve()), { once: true })
      subscriber.source.addEventListener(
        'error',
        (e) => (clearTimeout(timer), reject(new Error(`stream error: ${e.message ?? e.code}`))),
        { once: true },
      )
    })
    return subscriber
  }

  /** The first event (already received or still to come) that matches, within `timeoutMs`. */
  next(type: string, version?: string, timeoutMs = 5000): Promise<Received> {
    const match = (r: Received) => r.type === type && (version === undefined || r.data.version === version)
    const seen = this.received.find(match)
    if (seen) return Promise.resolve(seen)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(`no ${type} ${version ?? ''} event within ${timeoutMs} ms; got ${JSON.stringify(this.received)}`),
          ),
        timeoutMs,
      )
      this.#waiters.push({ match, resolve: (r) => (clearTimeout(timer), resolve(r)) })
    })
  }

  close(): void {
    this.source.close()
  }
}
