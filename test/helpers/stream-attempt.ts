import { connect, type Socket } from 'node:net'

/** What a bare `GET` of an event stream got: its status, and the socket (open if it is a stream). */
export interface StreamAttempt {
  status: number
  /** The head and whatever followed it so far. */
  text(): string
  socket: Socket
}

/**
 * Asks for an event stream over a socket of its own, bound to `localAddress` (any of 127.0.0.0/8
 * is this host), and resolves with the answer's status once its head is in: 200 (the socket
 * stays open as the stream) or a refusal such as 503. Extra header lines (`X-Forwarded-For`) may
 * be sent along.
 */
export function attemptStream(
  port: number,
  path: string,
  { localAddress = '127.0.0.1', headers = {} }: { localAddress?: string; headers?: Record<string, string> } = {},
): Promise<StreamAttempt> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1', localAddress })
    let text = ''
    socket.setEncoding('utf8')
    socket.on('error', () => {}) // a reset after the head is an ending like any other
    socket.once('close', () => reject(new Error(`closed before an answer: ${text.slice(0, 200)}`)))
    socket.on('data', (chunk: string) => {
      const hadHead = text.includes('\r\n\r\n')
      text += chunk
      if (!hadHead && text.includes('\r\n\r\n')) {
        resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0), text: () => text, socket })
      }
    })
    const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`)
    socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${lines.join('')}\r\n`)
  })
}

/** `count` attempts one after another (each answered before the next), from one address. */
export async function attemptStreams(
  port: number,
  path: string,
  count: number,
  options: Parameters<typeof attemptStream>[2] = {},
): Promise<StreamAttempt[]> {
  const attempts: StreamAttempt[] = []
  for (let i = 0; i < count; i++) attempts.push(await attemptStream(port, path, options))
  return attempts
}
