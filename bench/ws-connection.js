// Opens one WebSocket with the `ws` package, as a Node client of the koa + ws baseline would.
// Compression is off on both sides, and UTF-8 validation is skipped: the client should cost
// as little as it can, as the raw SSE client does. ws still parses every frame (its CPU is in
// the load clients' figure), but arrival is stamped where the SSE client stamps it: when the
// bytes come off the socket, so both protocols are timed at the same point.
import WebSocket from 'ws'

/** Same callbacks as openEventStream (sse-connection.js); data() for every read of the socket. */
export function openWebSocket(port, on) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/events?app=bench&version=v0`, {
    perMessageDeflate: false,
    skipUTF8Validation: true,
  })
  ws.on('open', () => {
    // `_socket` is ws's own TCP socket; reading it ahead of ws's parser observes, changes nothing.
    ws._socket.prependListener('data', (chunk) => on.data(chunk, chunk.length))
    on.open()
  })
  ws.on('error', (err) => {
    // A non-101 answer to the upgrade: the server refused, like a non-200 to an event stream.
    if (/^Unexpected server response/.test(err.message)) on.refused(err.message)
    else on.error(err.code ?? err.message)
  })
  ws.on('close', () => on.close())
  return { destroy: () => ws.terminate() }
}
