// One load-generating process: holds K raw SSE streams (node:net, not an HTTP client, so the
// client side costs as little as possible) and timestamps when each stream sees a deploy.
// Driven by the parent over IPC: request {id, op, ...} -> reply {id, ...}.
//   connect {port, count, concurrency, deadlineMs} -> {connected, failed, retries, errors}
//   expect  {marker}                                -> {ok}   (arm detection before the POST)
//   await   {deadlineMs}                            -> {times, missed, cpuUs} (when all arrived or at the deadline)
//   close                                           -> {ok}, then exit
// Any server works: the marker is searched in the raw bytes, so a chunked body (baseline)
// and a close-delimited one (sidecar) are handled alike.
import net from 'node:net'
import { performance } from 'node:perf_hooks'

const HEAD_END = Buffer.from('\r\n\r\n')
// Every socket reads into this one buffer (`onread`): no Buffer is allocated per read, so the
// client does little work and little GC per event. Safe to share: each read is handled
// synchronously before the next one lands.
const readBuffer = Buffer.alloc(16 * 1024)
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
  const request = Buffer.from(
    `GET /events?app=bench&version=v0 HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAccept: text/event-stream\r\n\r\n`,
  )
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
    let head = null // bytes received before the end of the response head
    let up = false
    const s = net.connect({ port, host: '127.0.0.1', onread: { buffer: readBuffer, callback: onRead } })
    socks[i] = s
    s.on('connect', () => s.write(request))
    s.on('error', (err) => {
      if (up || attempt >= MAX_ATTEMPTS) noteError(`stream ${i}: ${err.code ?? err.message}`)
    })
    function onRead(len, buf) {
      if (up) return seen(i, buf, len)
      const chunk = Buffer.from(buf.subarray(0, len)) // the shared buffer is reused by the next read
      head = head === null ? chunk : Buffer.concat([head, chunk])
      const end = head.indexOf(HEAD_END)
      if (end === -1) return
      const status = head.subarray(0, head.indexOf('\r\n')).toString('latin1')
      if (!/^HTTP\/1\.[01] 200 /.test(status)) {
        noteError(`stream ${i}: ${status}`)
        attempt = MAX_ATTEMPTS // a refusal by the server is an answer, not a glitch
        s.destroy()
        return
      }
      up = true
      isOpen[i] = 1
      connectedCount++
      inFlight--
      const rest = head.subarray(end + HEAD_END.length)
      head = null
      if (rest.length > 0) seen(i, rest, rest.length)
      launch()
    }
    s.on('close', () => {
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
