import { connect, createServer, type Socket } from 'node:net'
import type { AddressInfo } from 'node:net'

/** An answer the relay gives to a `GET /events` in the sidecar's place. */
export interface Canned {
  status: number
  type: string
  body: string
}

export interface Relay {
  /** The base URL to give the client as `data-url`. */
  url: string
  /** Every `GET /events`: when it arrived (Date.now()) and whether the relay answered it itself. */
  events: { at: number; canned?: number }[]
  /** Ends every relayed event stream, as a sidecar restart or a cut connection would. */
  dropStreams(): void
  /** The next `GET /events` requests get these answers instead of reaching the sidecar. */
  answerNext(...answers: Canned[]): void
  /** Resolves once `/events` has been requested `count` times, failing after `timeoutMs`. */
  requested(count: number, timeoutMs: number): Promise<void>
  close(): Promise<void>
}

const HEAD_END = '\r\n\r\n'

/**
 * A TCP relay in front of a real sidecar that sees every `GET /events` and can cut streams
 * on cue. Each connection carries one request (it asks the sidecar for `Connection: close`), so
 * the browser never sends an `/events` request on a connection the relay is not watching.
 */
export async function startRelay(sidecarPort: number): Promise<Relay> {
  const events: Relay['events'] = []
  const canned: Canned[] = []
  const streams = new Map<Socket, Socket>() // browser side -> sidecar side
  const sockets = new Set<Socket>()
  const waiters: { count: number; resolve: () => void }[] = []

  const server = createServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => {}) // a browser that goes away mid-request is not the test's failure
    let head = ''
    const onHead = (chunk: Buffer) => {
      head += chunk.toString('latin1')
      const end = head.indexOf(HEAD_END)
      if (end === -1) return
      socket.off('data', onHead)
      const isEvents = /^GET \/events[?\s]/.test(head)
      const answer = isEvents ? canned.shift() : undefined
      if (isEvents) {
        events.push({ at: Date.now(), ...(answer ? { canned: answer.status } : {}) })
        for (const waiter of waiters.splice(0)) {
          if (events.length >= waiter.count) waiter.resolve()
          else waiters.push(waiter)
        }
      }
      if (answer) {
        socket.end(
          `HTTP/1.1 ${answer.status} Canned\r\nContent-Type: ${answer.type}\r\nAccess-Control-Allow-Origin: *\r\n` +
            `Content-Length: ${Buffer.byteLength(answer.body)}\r\nConnection: close\r\n\r\n${answer.body}`,
        )
        return
      }
      const request =
        head.slice(0, end).replace(/\r\nconnection:[^\r]*/gi, '') + '\r\nConnection: close' + head.slice(end)
      const upstream = connect(sidecarPort, '127.0.0.1', () => upstream.write(request, 'latin1'))
      upstream.on('error', () => socket.destroy())
      socket.on('close', () => upstream.destroy())
      upstream.pipe(socket)
      socket.pipe(upstream)
      if (isEvents) {
        streams.set(socket, upstream)
        socket.on('close', () => streams.delete(socket))
      }
    }
    socket.on('data', onHead)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo

  return {
    url: `http://127.0.0.1:${port}`,
    events,
    dropStreams() {
      for (const [socket, upstream] of streams) {
        upstream.destroy()
        socket.end()
      }
    },
    answerNext(...answers) {
      canned.push(...answers)
    },
    requested(count, timeoutMs) {
      if (events.length >= count) return Promise.resolve()
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`/events requested ${events.length} times within ${timeoutMs} ms, expected ${count}`)),
          timeoutMs,
        )
        waiters.push({ count, resolve: () => (clearTimeout(timer), resolve()) })
      })
    },
    close() {
      for (const socket of sockets) socket.destroy()
      return new Promise((resolve) => server.close(() => resolve()))
    },
  }
}
