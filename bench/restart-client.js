// One load-generating process for the restart figure: holds K event streams over raw sockets
// and, when they drop, reconnects each one as a browser running client/core/stream.ts would.
//   policy 'hint'    (today's client): a healthy stream that drops is reopened by the
//                    browser's EventSource after the stream's `retry:` hint, with Last-Event-ID;
//                    a failed attempt (refused, reset, non-200) is retried by the client after
//                    full-jitter backoff, random(0, min(30 s, 1 s * 2^failures)), without it.
//   policy 'backoff' (the client before): every error, a drop included, gets that backoff.
// Driven over IPC like load-client.js:
//   connect {port, count, concurrency, deadlineMs, policy} -> {connected, errors}
//   watch                                                   -> {ok}   (count from here on)
//   back {deadlineMs}   -> {back: Float64Array of absolute ms, dropped, failed, polling, notBack, errors}
//                          once every stream has dropped and is open again, or at the deadline
//   close               -> {ok}, then exit
import net from 'node:net'
import { now } from './clock.js'

const BASE_MS = 1000 // as client/core/stream.ts
const CAP_MS = 30_000
const FAILURES_BEFORE_POLLING = 3
const DEFAULT_RETRY_MS = 3000 // Chromium's reconnection time before a stream sends `retry:`
const HEAD_END = '\r\n\r\n'

const reply = (id, body) => process.send({ id, ...body })

let port = 0
let policy = 'hint'
let pages = []
let watching = false
let dropped = 0
let failed = 0
let polling = 0 // pages that reached the failure count at which the client polls /version
let waiter = null
const errors = []
const noteError = (text) => errors.length < 5 && errors.push(text)

/** One page: its stream, what the stream told it, and when it came back. */
function page(i) {
  return { i, socket: null, opened: false, failures: 0, retryMs: DEFAULT_RETRY_MS, lastId: '', backAt: 0, dropAt: 0 }
}

function connect(p, { lastId = '', onFirstOpen } = {}) {
  const s = net.connect({ port, host: '127.0.0.1' })
  p.socket = s
  let buffered = ''
  let up = false
  s.setEncoding('latin1')
  s.on('connect', () =>
    s.write(
      `GET /events?app=bench&version=v1 HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAccept: text/event-stream\r\n` +
        (lastId ? `Last-Event-ID: ${lastId}\r\n` : '') +
        '\r\n',
    ),
  )
  s.on('data', (text) => {
    buffered += text
    if (!up) {
      const end = buffered.indexOf(HEAD_END)
      if (end === -1) return
      if (!/^HTTP\/1\.[01] 200 /.test(buffered)) {
        noteError(`stream ${p.i}: ${buffered.slice(0, buffered.indexOf('\r\n'))}`)
        s.destroy()
        return
      }
      up = true
      buffered = buffered.slice(end + HEAD_END.length)
      opened(p)
      onFirstOpen?.()
    }
    // The fields a browser keeps from the stream (HTML "Server-sent events", interpreting a line).
    const lines = buffered.split('\n')
    buffered = lines.pop()
    for (const line of lines) {
      if (/^retry: ?\d+$/.test(line)) p.retryMs = Number(line.replace(/\D/g, ''))
      else if (line.startsWith('id:')) p.lastId = line.slice(line[3] === ' ' ? 4 : 3)
    }
  })
  s.on('error', (err) => watching && up && noteError(`stream ${p.i}: ${err.code ?? err.message}`))
  s.on('close', () => (up ? droppedStream(p) : failedAttempt(p)))
}

function opened(p) {
  p.opened = true
  p.failures = 0
  if (watching && p.dropAt !== 0 && p.backAt === 0) {
    p.backAt = now()
    if (pages.every((q) => q.backAt !== 0)) settle()
  }
}

// The stream of an open page ended: the sidecar went away.
function droppedStream(p) {
  if (!watching) return
  if (p.dropAt === 0) {
    p.dropAt = now()
    dropped++
  }
  if (policy === 'hint') {
    // The EventSource reconnects by itself after the hint, sending the last id it saw.
    p.opened = false
    setTimeout(() => connect(p, { lastId: p.lastId }), p.retryMs)
  } else backOff(p)
}

// An attempt that never became a stream: refused, reset, or not a 200 event stream.
function failedAttempt(p) {
  if (!watching) return
  failed++
  backOff(p)
}

function backOff(p) {
  setTimeout(() => connect(p), Math.random() * Math.min(CAP_MS, BASE_MS * 2 ** p.failures++))
  if (p.failures === FAILURES_BEFORE_POLLING) polling++
}

function settle() {
  if (!waiter) return
  clearTimeout(waiter.timer)
  const { id } = waiter
  waiter = null
  const back = Float64Array.from(pages.filter((p) => p.backAt !== 0).map((p) => p.backAt))
  reply(id, { back, dropped, failed, polling, notBack: pages.length - back.length, errors })
}

function connectAll({ id, count, concurrency, deadlineMs }) {
  pages = Array.from({ length: count }, (_, i) => page(i))
  let next = 0
  let open = 0
  let done = false
  const finish = () => {
    if (done) return
    done = true
    clearTimeout(timer)
    reply(id, { connected: open, errors })
  }
  const timer = setTimeout(() => (noteError(`connect deadline after ${deadlineMs} ms`), finish()), deadlineMs)
  // Opening is bounded (`concurrency` at a time) so the accept backlog never overflows; a
  // stream that fails to open here is a setup failure, reported by the driver.
  const launch = () => {
    while (next < count && next - open < concurrency) {
      const p = pages[next++]
      connect(p, {
        onFirstOpen: () => {
          if (++open === count) finish()
          else launch()
        },
      })
    }
  }
  launch()
}

process.on('message', (msg) => {
  switch (msg.op) {
    case 'connect':
      port = msg.port
      policy = msg.policy
      return connectAll(msg)
    case 'watch':
      watching = true
      return reply(msg.id, { ok: true })
    case 'back': {
      waiter = { id: msg.id, timer: setTimeout(settle, msg.deadlineMs) }
      if (pages.every((p) => p.backAt !== 0)) settle()
      return
    }
    case 'close':
      watching = false
      for (const p of pages) p.socket?.destroy()
      reply(msg.id, { ok: true })
      return process.disconnect()
  }
})

process.on('disconnect', () => process.exit(0))
