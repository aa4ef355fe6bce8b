import { connect, type Socket } from 'node:net'

/** A bare TCP client of `/events`: cheap enough to open by the thousand. */
export interface RawStream {
  socket: Socket
  /** Everything received, head included. */
  text(): string
  /** Resolves when the server closes the stream. */
  ended: Promise<void>
}

/** Which loopback address the client connects from (127.0.0.0/8 is all this host's). */
export interface RawStreamOptions {
  localAddress?: string
}

function openOne(port: number, path: string, { localAddress }: RawStreamOptions = {}): Promise<RawStream> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1', ...(localAddress ? { localAddress } : {}) })
    let text = ''
    let onEnd: () => void = () => {}
    const ended = new Promise<void>((r) => (onEnd = r))
    socket.setEncoding('utf8')
    socket.on('error', () => {}) // a reset at shutdown is an ending too
    socket.on('close', () => onEnd())
    socket.on('data', (chunk: string) => {
      const first = text === ''
      text += chunk
      if (first) {
        if (text.startsWith('HTTP/1.1 200')) resolve({ socket, text: () => text, ended })
        else reject(new Error(`not a stream: ${text.slice(0, 200)}`))
      }
    })
    socket.once('close', () => reject(new Error('closed before the head')))
    socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`)
  })
}

/** Opens `count` streams, a batch at a time so the listen backlog never overflows. */
export async function openRawStreams(
  port: number,
  count: number,
  path = '/events',
  options: RawStreamOptions = {},
): Promise<RawStream[]> {
  const streams: RawStream[] = []
  for (let i = 0; i < count; i += 200) {
    const batch = Array.from({ length: Math.min(200, count - i) }, () => openOne(port, path, options))
    streams.push(...(await Promise.all(batch)))
  }
  return streams
}
