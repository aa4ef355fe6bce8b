import { connect, Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import Fastify from 'fastify'
import { HTTP_SERVER_SOCKET_EVENTS, openEventStream, rememberHttpListeners } from '../server/event-stream.js'
import { END_GRACE_MS, EventStreams } from '../server/streams.js'
import { eventFrame, statusFrame, UnsafeFieldError } from '../server/sse.js'
import { getJson, metric, notify, until } from './helpers/http.js'
import { openRawStreams, type RawStream } from './helpers/raw-streams.js'
import { startTestSidecar, type TestSidecar } from './helpers/sidecar.js'
import { Subscriber } from './helpers/stream.js'

const sidecars: TestSidecar[] = []
const clients: { destroy(): void }[] = []
afterEach(async () => {
  for (const client of clients.splice(0)) client.destroy()
  for (const sidecar of sidecars.splice(0)) await sidecar.close()
})

async function start(env: Record<string, string> = {}): Promise<TestSidecar> {
  const sidecar = await startTestSidecar(env)
  sidecars.push(sidecar)
  return sidecar
}

/** A bare TCP client that sends `bytes` (if any) and records what comes back and when it closes. */
function rawClient(port: number, bytes = ''): { socket: Socket; text: () => string; closed: Promise<number> } {
  const socket = connect(port, '127.0.0.1')
  clients.push(socket)
  const opened = Date.now()
  let text = ''
  socket.setEncoding('utf8')
  socket.on('data', (chunk: string) => (text += chunk))
  socket.on('error', () => {})
  const closed = new Promise<number>((resolve) => socket.on('close', () => resolve(Date.now() - opened)))
  if (bytes) socket.write(bytes)
  return { socket, text: () => text, closed }
}

/** Resolves with `promise`, or fails naming `what` after `ms`. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what} not within ${ms} ms`)), ms)),
  ])
}

/** The sidecar's end of every connection from now on, by the client's port. */
function serverSockets(sidecar: TestSidecar): Map<number, Socket> {
  const byClientPort = new Map<number, Socket>()
  sidecar.app.server.on('connection', (socket: Socket) => byClientPort.set(socket.remotePort ?? 0, socket))
  return byClientPort
}

const streamCount = (sidecar: TestSidecar, app = 'default'): Promise<number> =>
  metric(sidecar.url, `deploy_notify_connections{app="${app}"}`)

const GET_EVENTS = 'GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'

describe('one stream per connection', () => {
  it('counts a connection that pipelines 2000 GET /events once, and returns every slot when it closes', async () => {
    const sidecar = await start({ MAX_CONNECTIONS: '100', MAX_STREAMS_PER_ADDRESS: '100' })
    const attacker = rawClient(sidecar.port, GET_EVENTS.repeat(2000))
    // The first request gets its stream; the one pipelined behind it ends the connection.
    await within(attacker.closed, 5000, 'the pipelining connection to be closed')
    expect(attacker.text().match(/HTTP\/1\.1 200/g)).toHaveLength(1)
    await until(async () => (await streamCount(sidecar)) === 0, 'the count to return to 0')
    expect((await getJson(`${sidecar.url}/status`)).json).toMatchObject({ apps: {} })

    // Every slot is back: 100 browsers connect, the 101st is told to come back later.
    const browsers = await openRawStreams(sidecar.port, 100)
    clients.push(...browsers.map((b) => b.socket))
    expect(await streamCount(sidecar)).toBe(100)
    const late = rawClient(sidecar.port, GET_EVENTS)
    await until(() => late.text().includes('\r\n\r\n'), 'the 101st answer')
    expect(late.text()).toMatch(/^HTTP\/1\.1 503/)
  })

  it('never parses bytes that follow a stream head as another request, whatever they are', async () => {
    const sidecar = await start()
    for (const after of ['GET /version HTTP/1.1\r\nHost: x\r\n\r\n', 'garbage\r\n\r\n', 'GET /ev']) {
      const [stream] = (await openRawStreams(sidecar.port, 1)) as [RawStream]
      expect(await streamCount(sidecar)).toBe(1)
      stream.socket.write(after)
      await within(stream.ended, 5000, `the stream to close after ${JSON.stringify(after)}`)
      // Nothing but the stream's own bytes came back: no answer to a second request.
      expect(stream.text().match(/HTTP\/1\.1/g)).toHaveLength(1)
      await until(async () => (await streamCount(sidecar)) === 0, 'the count to return to 0')
    }
  })

  it('releases a stream socket from the HTTP server: exactly its per-connection listeners and its parser', async () => {
    const sidecar = await start()
    const sockets = serverSockets(sidecar)
    const [stream] = (await openRawStreams(sidecar.port, 1)) as [RawStream]
    clients.push(stream.socket)
    const socket = sockets.get(stream.socket.localPort ?? -1)
    if (!socket) throw new Error('no server socket for the stream')
    await until(() => (socket as Socket & { parser?: unknown }).parser === null, 'the parser to be let go')
    // What is left is the stream's own: the registry's close and error, and the handover's
    // data and end (bytes or the client's end close the stream).
    const left = Object.fromEntries(HTTP_SERVER_SOCKET_EVENTS.map((event) => [event, socket.listenerCount(event)]))
    // net's own 'end' listener (on every socket) stays.
    const own = new Socket().listenerCount('end')
    expect(left).toEqual({ data: 1, end: 1 + own, close: 1, drain: 0, error: 1, timeout: 0, pause: 0, resume: 0 })
    expect(socket.timeout ?? 0).toBe(0)
  })

  it('pins the listeners Node puts on a connection, which the handover takes off', async () => {
    const sidecar = await start()
    const events = new Promise<string[]>((resolve) =>
      sidecar.app.server.once('connection', (socket: Socket) => resolve(socket.eventNames().map(String))),
    )
    const client = rawClient(sidecar.port)
    // If a Node release listens to more or other events, the handover must learn about them.
    expect((await within(events, 5000, 'a connection')).sort()).toEqual([...HTTP_SERVER_SOCKET_EVENTS].sort())
    client.socket.destroy()
  })
})

describe('a stream ended every way closes its socket and leaves the counts', () => {
  const endings: [string, (stream: RawStream, sidecar: TestSidecar) => Promise<void> | void][] = [
    ['the client closes', (stream) => void stream.socket.destroy()],
    ['the client ends its side', (stream) => void stream.socket.end()],
    ['the lifetime expires', () => {}],
    [
      'the app shuts down',
      (_, sidecar) => {
        sidecars.splice(sidecars.indexOf(sidecar), 1)
        return sidecar.close()
      },
    ],
  ]
  for (const [how, end] of endings) {
    it(how, async () => {
      const sidecar = await start({ STREAM_LIFETIME_MS: how.includes('lifetime') ? '1000' : '0' })
      const sockets = serverSockets(sidecar)
      const [stream] = (await openRawStreams(sidecar.port, 1, '/events?app=web')) as [RawStream]
      const [status] = (await openRawStreams(sidecar.port, 1, '/status/events')) as [RawStream]
      clients.push(stream.socket, status.socket)
      const socket = sockets.get(stream.socket.localPort ?? -1)
      const closed = new Promise<void>((resolve) => socket?.once('close', () => resolve()))
      expect(await streamCount(sidecar, 'web')).toBe(1)
      await end(stream, sidecar)
      await within(closed, 5000, 'the sidecar to close its socket')
      if (how.includes('shuts down')) {
        await within(status.ended, 5000, 'the status stream to end')
        return
      }
      expect(await streamCount(sidecar, 'web')).toBe(0)
      expect((await getJson(`${sidecar.url}/status`)).json).toMatchObject({ apps: {} })
    })
  }
})

describe('connections that never become a request', () => {
  it('closes silent and half-sent connections within REQUEST_TIMEOUT_MS, while streams stay open', async () => {
    const sidecar = await start({ REQUEST_TIMEOUT_MS: '1000', KEEPALIVE_MS: '1000' })
    const [stream] = (await openRawStreams(sidecar.port, 1)) as [RawStream]
    clients.push(stream.socket)
    const silent = rawClient(sidecar.port)
    const halfHead = rawClient(sidecar.port, 'GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n')
    const trickle = rawClient(sidecar.port, 'GET /events HTTP/1.1\r\nX-Slow: ')
    const dribble = setInterval(() => trickle.socket.write('a'), 200) // never idle, never done
    try {
      // The bound: the timeout, plus Node's check interval, plus a slow machine's delay.
      for (const [what, client] of [
        ['silent', silent],
        ['half-sent head', halfHead],
        ['trickling head', trickle],
      ] as const) {
        const after = await within(client.closed, 4000, `the ${what} connection to close`)
        expect(after, what).toBeGreaterThanOrEqual(900)
      }
    } finally {
      clearInterval(dribble)
    }
    // The stream, quiet but for keepalives, outlives the timeout several times over.
    await until(() => stream.text().split(':\n\n').length > 4, 'four keepalives on the stream', 8000)
    expect(await streamCount(sidecar)).toBe(1)
  })
})

describe('stalled readers', () => {
  it('drops a client that stops reading at the end of its lifetime, and a reading page comes back to the current version', async () => {
    const sidecar = await start({ STREAM_LIFETIME_MS: '1500', RETRY_MS: '100' })
    const sockets = serverSockets(sidecar)
    const [stalled] = (await openRawStreams(sidecar.port, 1, '/events?app=web')) as [RawStream]
    clients.push(stalled.socket)
    stalled.socket.pause()
    const socket = sockets.get(stalled.socket.localPort ?? -1)
    const dropped = new Promise<void>((resolve) => socket?.once('close', () => resolve()))
    const page = await Subscriber.open(sidecar.url, { app: 'web', version: 'v0' })
    clients.push({ destroy: () => page.close() })
    let opens = 0
    page.source.addEventListener('open', () => opens++)
    await notify(sidecar.url, { app: 'web', version: 'v1' })
    // Lifetime 1500 ms (less up to a quarter), checked every second, then END_GRACE_MS to close its side.
    await within(dropped, 1500 + 1000 + END_GRACE_MS + 2000, 'the stalled stream to be closed')
    await until(() => opens >= 1, 'the page to reconnect', 5000)
    await notify(sidecar.url, { app: 'web', version: 'v2' })
    // Its own stream lives 1.5 s too: a notify that comes while it reconnects reaches it as the
    // version event of the new stream rather than as a deploy event. Either way it learns v2.
    const learned = await Promise.any([page.next('deploy', 'v2'), page.next('version', 'v2')])
    expect(learned.data.version).toBe('v2')
  })
})

describe('the SSE encoder', () => {
  const deploy = { app: 'web', version: 'v1', id: '7', time: new Date(0).toISOString() }
  it.each(['7\nevent: deploy', '7\r', '7\0'])('refuses an id with CR, LF or NUL: %j', (id) => {
    expect(() => eventFrame('deploy', { ...deploy, id })).toThrow(UnsafeFieldError)
    expect(() => eventFrame('deploy', { ...deploy, id })).toThrow(
      expect.objectContaining({ code: 'DN_ERR_UNSAFE_SSE_FIELD' }),
    )
  })
  it('keeps line breaks in values inside the one JSON data line', () => {
    const text = eventFrame('deploy', { ...deploy, message: 'a\r\nb' }).toString()
    expect(text.split('\n')).toEqual([
      'event: deploy',
      'id: 7',
      `data: ${JSON.stringify({ ...deploy, message: 'a\r\nb' })}`,
      '',
      '',
    ])
    expect(statusFrame({ note: 'x\ny' }).toString()).toBe('event: status\ndata: {"note":"x\\ny"}\n\n')
  })
})

describe('the handover', () => {
  it('ends a stream whose handler ends reply.raw after the handover, as after any other ending', async () => {
    const registry = new EventStreams({ keepaliveMs: 60_000, lifetimeMs: 0 })
    const streams = registry.group()
    const app = Fastify()
    app.server.on('connection', rememberHttpListeners)
    clients.push({ destroy: () => void app.close() })
    let endRaw: () => void = () => {}
    const finishListeners: number[] = []
    app.get('/stream', (request, reply) => {
      openEventStream(request, reply, (socket) => streams.add(socket, 'web', '127.0.0.1', Buffer.from(':\n\n')))
      // Node's resOnFinish, which the handover replaces by one that ends the stream.
      finishListeners.push(reply.raw.listenerCount('finish'))
      endRaw = () => {
        expect(reply.raw.socket).toBeNull() // detached, as after an upgrade
        finishListeners.push(reply.raw.listenerCount('finish'))
        reply.raw.end()
      }
    })
    await app.listen({ port: 0, host: '127.0.0.1' })
    const address = app.server.address()
    const port = typeof address === 'object' && address ? address.port : 0
    const [stream] = (await openRawStreams(port, 1, '/stream')) as [RawStream]
    clients.push(stream.socket)
    streams.send('web', Buffer.from(': before\n\n'))
    await until(() => stream.text().endsWith(': before\n\n'), 'a frame on the stream')
    expect(streams.size).toBe(1)
    endRaw()
    await within(stream.ended, 5000, 'the stream to end')
    await until(() => streams.size === 0, 'the count to return to 0')
    expect(finishListeners).toEqual([1, 1])
    registry.close()
  })
})
