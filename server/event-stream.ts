import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http'
import { createRequire } from 'node:module'
import { Socket } from 'node:net'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { retryFrame } from './sse.js'
import { endStream } from './streams.js'

/**
 * The first bytes of a stream: a retry hint with jitter, so the browsers of a restarted
 * sidecar do not all come back in the same millisecond (half a period is spread).
 */
export const jitteredRetry = (retryMs: number): Buffer =>
  retryFrame(retryMs + Math.floor(Math.random() * (retryMs / 2)))

/**
 * The events Node's HTTP server listens to on each connection (lib/_http_server.js,
 * connectionListenerInternal); test/streams-hardening.test.ts pins the list.
 */
export const HTTP_SERVER_SOCKET_EVENTS = ['data', 'end', 'close', 'drain', 'error', 'timeout', 'pause', 'resume']
type Listener = (...args: unknown[]) => void
type Listeners = (readonly [string, Listener[]])[]
/** A socket's own listeners (net's 'end' handler), which stay: only the HTTP server's go. */
const socketOwn = new Set(HTTP_SERVER_SOCKET_EVENTS.flatMap((event) => new Socket().listeners(event)))
/** What the HTTP server attached to each connection, until it holds a stream or closes. */
const httpListeners = new WeakMap<Socket, Listeners>()

/**
 * A 'connection' listener of the HTTP server, registered after Node's own: it records exactly
 * the listeners Node just put on the connection, the ones a stream's socket is later freed of
 * (anything added after, by anyone, stays).
 */
export function rememberHttpListeners(socket: Socket): void {
  httpListeners.set(
    socket,
    HTTP_SERVER_SOCKET_EVENTS.map(
      (event) => [event, (socket.listeners(event) as Listener[]).filter((l) => !socketOwn.has(l))] as const,
    ),
  )
}

type FreeParser = (parser: unknown, request: IncomingMessage, socket: Socket) => void
/**
 * Node's own way to let go of a connection's parser, as it does when it hands an upgraded
 * connection over (lib/_http_server.js, onParserExecuteCommon). Not documented: if a Node
 * release drops it, streams keep their parser (more memory, same behaviour).
 */
const { freeParser } = createRequire(import.meta.url)('_http_common') as { freeParser?: FreeParser }

/**
 * Answers with an event-stream head and hands the socket to `attach`, which writes frames to
 * it as they are. Without Transfer-Encoding the body runs until the connection closes
 * (RFC 9112 6.3), which every EventSource and proxy accepts, so a frame needs no chunk
 * framing per write. `attach` runs while the socket is corked (head and first bytes leave in
 * one write) and says whether it holds the socket; if so, the socket is then released from
 * Node's HTTP server: nothing that arrives on it is parsed as another request.
 */
export function openEventStream(
  request: FastifyRequest,
  reply: FastifyReply,
  attach: (socket: Socket) => boolean,
): void {
  reply.hijack()
  const response = reply.raw
  const socket = request.raw.socket
  response.removeHeader('transfer-encoding')
  socket.cork()
  response.writeHead(200, {
    ...(reply.getHeaders() as OutgoingHttpHeaders),
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    'x-accel-buffering': 'no',
    connection: 'close',
  })
  response.flushHeaders()
  // The request is complete; from here a stream is quiet for as long as no deploy comes.
  socket.setTimeout(0)
  const held = attach(socket)
  socket.uncork()
  // Once the parser has returned from the bytes it is parsing (pipelined requests in the same
  // read are refused by `attach`, which sees the socket already held).
  if (held) setImmediate(releaseFromHttpServer, socket, request.raw, response)
}

/**
 * What Node does with an upgraded connection, for a stream: its parser, request, response and
 * per-connection listeners are let go (a few KB per stream), and whatever the client sends
 * after the head ends the stream. test/streams-hardening.test.ts pins what is taken off.
 */
function releaseFromHttpServer(socket: Socket, request: IncomingMessage, response: ServerResponse): void {
  const parser = (socket as Socket & { parser?: unknown }).parser
  const listenersOfServer = httpListeners.get(socket)
  httpListeners.delete(socket)
  if (socket.destroyed || !parser || !listenersOfServer || typeof freeParser !== 'function') return
  for (const [event, listeners] of listenersOfServer) {
    for (const listener of listeners) socket.removeListener(event, listener)
  }
  freeParser(parser, request, socket)
  response.detachSocket(socket)
  // Node caches the peer's address on the socket once read (the per-address limits read it);
  // a stream never needs it again, and Node reads it anew if anything asks. About 120 bytes.
  ;(socket as Socket & { _peername?: unknown })._peername = undefined
  // Node's own 'finish' handler (resOnFinish) expects the response to own the socket still and
  // throws if a handler ends it now; Fastify's would log a request that never finished. Ending
  // the response is one more way to end the stream.
  response.removeAllListeners('finish')
  response.once('finish', () => endStream(socket))
  socket.on('data', closeOnData)
  socket.on('end', closeOnData)
  // Node pauses a connection flooded with pipelined requests; a stream must see its peer leave.
  socket.resume()
}

/** A stream's client sends nothing after its request head: bytes or its end close the stream. */
function closeOnData(this: Socket): void {
  this.destroy()
}
