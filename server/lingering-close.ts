import type { IncomingMessage } from 'node:http'
import type { Socket } from 'node:net'
import type { FastifyInstance } from 'fastify'

/** The rest of a refused request is read and discarded for this long at most (nginx: lingering_time)... */
export const LINGER_MS = 5000
/** ...or until the client has sent nothing for this long (nginx: lingering_timeout)... */
export const LINGER_IDLE_MS = 1000
/** ...or this many bytes, whichever comes first. */
export const LINGER_BYTES = 16 * 1024 * 1024
const LINGER_CHECK_MS = 250

/**
 * An answer sent before its request's body was read (401 before a notify's body, 413 past the
 * body limit) is followed by a lingering close, as nginx and Apache do: the sidecar closes its
 * side after the answer, and reads and discards what the client still sends for a bounded time
 * and size. Closing at once would reset the connection while the client is still sending, and a
 * reset makes the client's TCP stack throw away the answer it has not read yet (RFC 9112 9.6):
 * Node's `http` and `fetch` would report EPIPE or ECONNRESET instead of the error.
 */
export function lingerAfterEarlyAnswers(app: FastifyInstance): void {
  app.addHook('onSend', async (request, reply, payload) => {
    if (request.raw.complete) return payload
    reply.header('connection', 'close')
    // Node ends a "Connection: close" answer with socket.destroySoon() (lib/_http_server.js,
    // resOnFinish), which closes as soon as the answer is written: a lingering close instead.
    const socket = request.raw.socket as Socket & { destroySoon?: () => void }
    let lingering = false
    socket.destroySoon = () => {
      if (!lingering) lingeringClose(request.raw)
      lingering = true
    }
    return payload
  })
}

function lingeringClose(request: IncomingMessage): void {
  const { socket } = request
  if (socket.destroyed) return
  // Nothing the client still sends is a request: Node reads it as the body and drops it.
  request.resume()
  // A FIN after the answer: the client reads it, and learns that no other answer comes.
  socket.end()
  // Closed once the answer has left (a close with bytes unsent would discard them).
  const close = (): void => {
    if (socket.writableFinished) socket.destroy()
    else socket.once('finish', () => socket.destroy())
  }
  if (request.complete) return close()
  const started = Date.now()
  const startBytes = socket.bytesRead
  let lastBytes = startBytes
  let lastData = started
  const check = setInterval(() => {
    const now = Date.now()
    if (socket.bytesRead !== lastBytes) [lastBytes, lastData] = [socket.bytesRead, now]
    // Past the time bound, even a client that reads nothing is let go.
    if (now - started >= LINGER_MS) socket.destroy()
    else if (now - lastData >= LINGER_IDLE_MS || lastBytes - startBytes > LINGER_BYTES) close()
  }, LINGER_CHECK_MS).unref()
  // Every byte of the body came: nothing is left to discard.
  request.once('end', close)
  socket.once('close', () => clearInterval(check))
}
