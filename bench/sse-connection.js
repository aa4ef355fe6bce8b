// Opens one event stream over a raw TCP socket (node:net, not an HTTP client, so the client
// side costs as little as possible) and hands its bytes on as they arrive.
import net from 'node:net'

const HEAD_END = Buffer.from('\r\n\r\n')
// Every socket reads into this one buffer (`onread`): no Buffer is allocated per read, so the
// client does little work and little GC per event. Safe to share: each read is handled
// synchronously before the next one lands.
const readBuffer = Buffer.alloc(16 * 1024)

/**
 * `on`: open() once the 200 head is in, data(buf, len) for every read after it (`len` fresh
 * bytes at the start of the shared `buf`; bytes past `len` are stale), refused(text) when the
 * server answers anything else, error(text), close(). Returns the socket.
 */
export function openEventStream(port, on) {
  const request = Buffer.from(
    `GET /events?app=bench&version=v0 HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAccept: text/event-stream\r\n\r\n`,
  )
  let head = null // bytes received before the end of the response head
  let up = false
  const s = net.connect({ port, host: '127.0.0.1', onread: { buffer: readBuffer, callback: onRead } })
  s.on('connect', () => s.write(request))
  s.on('error', (err) => on.error(err.code ?? err.message))
  s.on('close', () => on.close())
  function onRead(len, buf) {
    if (up) return on.data(buf, len)
    const chunk = Buffer.from(buf.subarray(0, len)) // the shared buffer is reused by the next read
    head = head === null ? chunk : Buffer.concat([head, chunk])
    const end = head.indexOf(HEAD_END)
    if (end === -1) return
    const status = head.subarray(0, head.indexOf('\r\n')).toString('latin1')
    if (!/^HTTP\/1\.[01] 200 /.test(status)) {
      on.refused(status)
      s.destroy()
      return
    }
    up = true
    on.open()
    const rest = head.subarray(end + HEAD_END.length)
    head = null
    if (rest.length > 0) on.data(rest, rest.length)
  }
  return s
}
