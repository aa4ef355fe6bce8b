// The second baseline: the same job done the way many tutorials do it, with koa and a
// WebSocket per page (koa-websocket over ws). It holds the connections, broadcasts one
// encoded message to all of them on POST /notify, and pings every KEEPALIVE_MS, dropping a
// client that did not answer the previous ping (the heartbeat from ws's README). Plain, like
// baseline-server.js: no tricks, no pooling; per-message compression is off (ws's default).
import Koa from 'koa'
import websockify from 'koa-websocket'

const sockets = new Set()
let nextId = 0

const app = websockify(new Koa())

app.ws.use((ctx) => {
  if (ctx.path !== '/events') return ctx.websocket.close(1008, 'not found')
  const socket = ctx.websocket
  socket.isAlive = true
  socket.on('pong', () => (socket.isAlive = true))
  socket.on('close', () => sockets.delete(socket))
  sockets.add(socket)
})

const readBody = (req) =>
  new Promise((resolve, reject) => {
    const chunks = []
    req.on('data', (c) => chunks.push(c))
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    req.on('error', reject)
  })

app.use(async (ctx) => {
  if (ctx.method !== 'POST' || ctx.path !== '/notify') {
    ctx.status = 404
    ctx.body = { error: 'not_found', message: 'not found' }
    return
  }
  let body
  try {
    body = JSON.parse(await readBody(ctx.req))
  } catch {
    body = null
  }
  if (!body || typeof body.version !== 'string') {
    ctx.status = 400
    ctx.body = { error: 'bad_request', message: 'version (string) is required' }
    return
  }
  const id = String(++nextId)
  const data = { app: body.app ?? 'default', version: body.version, id, time: new Date().toISOString() }
  // One message, encoded once, sent as a text frame to every open socket.
  const message = Buffer.from(JSON.stringify({ event: 'deploy', data }))
  for (const socket of sockets) socket.send(message, { binary: false })
  ctx.status = 202
  ctx.body = { app: data.app, version: data.version, id, delivered: sockets.size }
})

const keepaliveMs = Number(process.env.KEEPALIVE_MS ?? 15000)
setInterval(() => {
  for (const socket of sockets) {
    if (!socket.isAlive) {
      socket.terminate()
      continue
    }
    socket.isAlive = false
    socket.ping()
  }
}, keepaliveMs).unref()

const server = app.listen(Number(process.env.PORT ?? 8080), '127.0.0.1', () => {
  console.log(JSON.stringify({ msg: 'deploy-notify listening', port: server.address().port }))
})
