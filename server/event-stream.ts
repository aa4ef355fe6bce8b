import type { OutgoingHttpHeaders } from 'node:http'
import type { Socket } from 'node:net'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { retryFrame } from './sse.js'

/**
 * The first bytes of a stream: a retry hint with jitter, so the browsers of a restarted
 * sidecar do not all come back in the same millisecond (half a period is spread).
 */
export const jitteredRetry = (retryMs: number): Buffer =>
  retryFrame(retryMs + Math.floor(Math.random() * (retryMs / 2)))

/**
 * Answers with an event-stream head and hands over the socket, on which the caller writes
 * frames as they are. Without Transfer-Encoding the body runs until the connection closes
 * (RFC 9112 6.3), which every EventSource and proxy accepts, so a frame needs no chunk
 * framing per write. `attach` runs while the socket is corked: head and first bytes leave in
 * one write.
 */
export function openEventStream(request: FastifyRequest, reply: FastifyReply, attach: (socket: Socket) => void): void {
  reply.hijack()
  const response = reply.raw
  // Fastify's completion log waits for a 'finish' that a stream never emits; its listener
  // would keep this request's objects and logger alive as long as the stream.
  response.removeAllListeners('finish').removeAllListeners('error')
  response.removeHeader('transfer-encoding')
  const socket = request.raw.socket
  socket.cork()
  response.writeHead(200, {
    ...(reply.getHeaders() as OutgoingHttpHeaders),
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    'x-accel-buffering': 'no',
    connection: 'close',
  })
  response.flushHeaders()
  attach(socket)
  socket.uncork()
}
