import { createServer, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Deploy } from '../../contract/deploy.js'
import { metric } from '../helpers/http.js'

/** Waits (bounded) until the real sidecar holds exactly `count` streams of `app`, by its /metrics. */
export async function waitForStreams(sidecarUrl: string, app: string, count: number, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const open = await metric(sidecarUrl, `deploy_notify_connections{app="${app}"}`)
    if (open === count) return
    if (Date.now() > deadline)
      throw new Error(
        `expected ${count} open stream(s) of app "${app}" within ${timeoutMs} ms, the sidecar holds ${open}`,
      )
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/**
 * What one `GET /events` answers: an HTTP error or a wrong type (where a bare EventSource gives
 * up for good), or `'stream'`: a real event stream that sends the current deploy and stays open
 * (`{ frames }`: the same, with raw frames written before the current deploy).
 */
export type EventsAnswer = 'stream' | { frames: string } | { status: number; type?: string; body?: string }

export interface FakeSidecar {
  /** The base URL to give the client as `data-url`. */
  url: string
  /**
   * The current deploy: what streams send when they open and what `/version` answers (404
   * while unset). `where` keeps it from one of them, so only the other can deliver it.
   */
  setCurrent(deploy: Deploy | undefined, where?: { stream?: boolean; version?: boolean }): void
  /** The statuses `/events` (or `/version`) answered, in order. */
  answered(path: '/events' | '/version'): number[]
  /** Resolves once `path` has been requested `count` times, failing after `timeoutMs`. */
  requested(path: '/events' | '/version', count: number, timeoutMs: number): Promise<void>
  close(): Promise<void>
}

export function deploy(app: string, version: string, message?: string, id = '1'): Deploy {
  return { app, version, id, time: new Date().toISOString(), ...(message === undefined ? {} : { message }) }
}

/**
 * A stand-in for the sidecar that misbehaves on cue: `/events` answers from `events` in order
 * (the last one repeats). Any origin may read it, as the real sidecar's CORS `*` allows.
 */
export async function startFakeSidecar(events: EventsAnswer[]): Promise<FakeSidecar> {
  let current: Deploy | undefined
  let inStream = true
  let inVersion = true
  const statuses = { '/events': [] as number[], '/version': [] as number[] }
  const waiters: { path: '/events' | '/version'; count: number; resolve: () => void }[] = []
  const streams = new Set<ServerResponse>()

  const server = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://fake').pathname
    const cors = { 'access-control-allow-origin': '*' }
    let status: number
    if (path === '/events') {
      const answer = events[Math.min(statuses['/events'].length, events.length - 1)] ?? 'stream'
      if (answer === 'stream' || 'frames' in answer) {
        status = 200
        response.writeHead(200, { ...cors, 'content-type': 'text/event-stream', 'cache-control': 'no-cache' })
        response.write('retry: 200\n\n')
        if (answer !== 'stream') response.write(answer.frames)
        if (current && inStream)
          response.write(`event: version\nid: ${current.id}\ndata: ${JSON.stringify(current)}\n\n`)
        streams.add(response)
        response.on('close', () => streams.delete(response))
      } else {
        status = answer.status
        response.writeHead(status, { ...cors, 'content-type': answer.type ?? 'application/json' })
        response.end(answer.body ?? JSON.stringify({ error: 'DN_ERR_TEST', message: `fake ${status}` }))
      }
    } else if (path === '/version') {
      const etag = current ? `"${current.id}-${current.version}"` : undefined
      if (!current || !inVersion) status = 404
      else status = request.headers['if-none-match'] === etag ? 304 : 200
      response.writeHead(status, {
        ...cors,
        'content-type': 'application/json',
        'cache-control': 'no-cache',
        ...(etag && status !== 404 ? { etag } : {}),
      })
      response.end(
        status === 200
          ? JSON.stringify(current)
          : status === 404
            ? JSON.stringify({ error: 'DN_ERR_NO_VERSION', message: 'none' })
            : undefined,
      )
    } else {
      response.writeHead(404, cors).end()
      return
    }
    statuses[path].push(status)
    for (const waiter of waiters.splice(0)) {
      if (statuses[waiter.path].length >= waiter.count) waiter.resolve()
      else waiters.push(waiter)
    }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo

  return {
    url: `http://127.0.0.1:${port}`,
    setCurrent(deploy, { stream = true, version = true } = {}) {
      current = deploy
      inStream = stream
      inVersion = version
    },
    answered(path) {
      return [...statuses[path]]
    },
    requested(path, count, timeoutMs) {
      if (statuses[path].length >= count) return Promise.resolve()
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(
              new Error(`${path} requested ${statuses[path].length} times within ${timeoutMs} ms, expected ${count}`),
            ),
          timeoutMs,
        )
        waiters.push({ path, count, resolve: () => (clearTimeout(timer), resolve()) })
      })
    },
    close() {
      for (const stream of streams) stream.destroy()
      server.closeAllConnections()
      return new Promise((resolve) => server.close(() => resolve()))
    },
  }
}

/** Waits (bounded) until the real sidecar counts `count` open pages of `app` on `version`, by its /metrics. */
export async function waitForVersion(
  sidecarUrl: string,
  app: string,
  version: string,
  count = 1,
  timeoutMs = 5000,
): Promise<void> {
  const series = `deploy_notify_connections{app="${app}",version="${version}"}`
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const open = await metric(sidecarUrl, series)
    if (open === count) return
    if (Date.now() > deadline)
      throw new Error(`expected ${series} to be ${count} within ${timeoutMs} ms, it is ${open}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}
