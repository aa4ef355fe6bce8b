// One load-generating process: holds K streams and timestamps when each one sees a deploy.
// `node load-client.js sse` holds raw SSE streams (sse-connection.js); `node load-client.js ws`
// holds WebSockets (ws-connection.js). Driven by the parent over IPC: request {id, op, ...} -> reply {id, ...}.
//   connect {port, count, concurrency, deadlineMs} -> {connected, failed, retries, errors}
//   expect  {marker}                                -> {ok}   (arm detection before the POST)
//   await   {deadlineMs}                            -> {times, missed, cpuUs} (when all arrived or at the deadline)
//   close                                           -> {ok}, then exit
// Any server works: the marker is searched in the raw bytes (or the message), so a chunked
// body (node:http), a close-delimited one (sidecar) and WebSocket frames are handled alike.
import { performance } from 'node:perf_hooks'
import { openEventStream } from './sse-connection.js'
import { openWebSocket } from './ws-connection.js'

const openOne = process.argv[2] === 'ws' ? openWebSocket : openEventStream
const MAX_ATTEMPTS = 3 // connection resets while opening are retried, and counted

let socks = []
let recvAt = new Float64Array(0) // performance.now() of arrival per stream; 0 = not yet
let tails = [] // last bytes of the previous chunk, for a marker split across two reads
let isOpen = new Uint8Array(0) // 1 while a stream is established
let connectedCount = 0
let marker = null
let pending = 0 // open streams still waiting for the armed marker
let waiter = null // {id, timer} of the outstanding `await`
let cpuAtExpect = null // this process's own CPU, reported so its cost is visible

const reply = (id, body) => process.send({ id, ...body })

// Called for every read of an established stream: `len` fresh bytes at the start of `buf`
// (the process-wide read buffer, so bytes past `len` are stale and must be ignored).
function seen(i, buf, len) {
  if (marker === null || recvAt[i] !== 0) return
  const keep = marker.length - 1
  let hit = buf.subarray(0, len).indexOf(marker) !== -1
  const tail = tails[i]
  if (!hit && tail !== null) {
    hit = Buffer.concat([tail, buf.subarray(0, Math.min(keep, len))]).indexOf(marker) !== -1
  }
  if (hit) {
    recvAt[i] = performance.now()
    tails[i] = null
    if (--pending === 0) settle()
    return
  }
  // Only reached when a read lacks the whole marker: rare, so copying here is fine.
  const fresh = buf.subarray(0, len)
  const joined = len >= keep || tail === null ? fresh : Buffer.concat([tail, fresh])
  tails[i] = Buffer.from(joined.subarray(Math.max(0, joined.length - keep)))
}

function settle() {
  if (waiter === null) return
  clearTimeout(waiter.timer)
  const { id } = waiter
  waiter = null
  // Absolute wall-clock ms (timeOrigin + now) so the driver can compare with its send time.
  const times = []
  for (let i = 0; i < recvAt.length; i++) {
    if (recvAt[i] !== 0) times.push(performance.timeOrigin + recvAt[i])
  }
  const cpu = process.cpuUsage(cpuAtExpect)
  reply(id, { times: Float64Array.from(times), missed: connectedCount - times.length, cpuUs: cpu.user + cpu.system })
}

function connectAll({ id, port, count, concurrency, deadlineMs }) {
  socks = new Array(count).fill(null)
  recvAt = new Float64Array(count)
  tails = new Array(count).fill(null)
  isOpen = new Uint8Array(count)
  let next = 0
  let inFlight = 0
  let failed = 0
  let retries = 0
  let done = false
  const errors = []
  const noteError = (text) => {
    if (errors.length < 5) errors.push(text)
  }

  const finish = () => {
    if (done) return
    done = true
    clearTimeout(timer)
    reply(id, { connected: connectedCount, failed: count - connectedCount, retries, errors })
  }
  const timer = setTimeout(() => {
    noteError(`connect deadline after ${deadlineMs} ms`)
    finish()
  }, deadlineMs)

  const launch = () => {
    while (!done && inFlight < concurrency && next < count) {
      inFlight++
      open(next++, 1)
    }
    if (inFlight === 0 && connectedCount + failed === count) finish()
  }

  // Opening is bounded (`concurrency` at a time) so the server's accept backlog never overflows.
  function open(i, attempt) {
    let up = false
    socks[i] = openOne(port, {
      open() {
        up = true
        isOpen[i] = 1
        connectedCount++
        inFlight--
        launch()
      },
      data: (buf, len) => seen(i, buf, len),
      refused(text) {
        noteError(`stream ${i}: ${text}`)
        attempt = MAX_ATTEMPTS // a refusal by the server is an answer, not a glitch
      },
      error(text) {
        if (up || attempt >= MAX_ATTEMPTS) noteError(`stream ${i}: ${text}`)
      },
      close() {
        if (up) {
          isOpen[i] = 0
          if (marker !== null && recvAt[i] === 0 && --pending === 0) settle()
          return
        }
        inFlight--
        if (!done && attempt < MAX_ATTEMPTS) {
          retries++
          inFlight++
          open(i, attempt + 1)
          return
        }
        failed++
        launch()
      },
    })
  }

  launch()
}

process.on('message', (msg) => {
  switch (msg.op) {
    case 'connect':
      return connectAll(msg)
    case 'expect': {
      marker = Buffer.from(msg.marker)
      cpuAtExpect = process.cpuUsage()
      tails.fill(null)
      recvAt.fill(0)
      pending = 0
      for (let i = 0; i < isOpen.length; i++) pending += isOpen[i]
      return reply(msg.id, { ok: true })
    }
    case 'await': {
      const timer = setTimeout(settle, msg.deadlineMs)
      waiter = { id: msg.id, timer }
      if (pending <= 0) settle()
      return
    }
    case 'close':
      for (const s of socks) s?.destroy()
      reply(msg.id, { ok: true })
      return process.disconnect()
  }
})

// Never outlive the driver.
process.on('disconnect', () => process.exit(0))
