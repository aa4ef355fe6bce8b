// The baseline: SSE fan-out written the natural way with node:http, nothing else.
// The sidecar is measured against this, so it must stay plain (no tricks, no pooling).
import http from 'node:http'

const streams = new Set()
let nextId = 0

function openStream(res) {
  res.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache',
    'x-accel-buffering': 'no',
  })
  res.write('retry: 3000\n\n')
  streams.add(res)
  res.on('close', () => streams.delete(res))
}

function notify(req, res) {
  const chunks = []
  req.on('data', (c) => chunks.push(c))
  req.on('end', () => {
    let body
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'))
    } catch {
      body = null
    }
    if (!body || typeof body.version !== 'string') {
      res.writeHead(400, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ error: 'bad_request', message: 'version (string) is required' }))
      return
    }
    const id = String(++nextId)
    const data = { app: body.app ?? 'default', version: body.version, id, time: new Date().toISOString() }
    // One frame, encoded once, written to every open stream.
    const frame = Buffer.from(`event: deploy\nid: ${id}\ndata: ${JSON.stringify(data)}\n\n`)
    for (const s of streams) s.write(frame)
    res.writeHead(202, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ app: data.app, version: data.version, id, delivered: streams.size }))
  })
}

const server = http.createServer((req, res) => {
  const path = req.url.split('?', 1)[0]
  if (req.method === 'GET' && path === '/events') return openStream(res)
  if (req.method === 'POST' && path === '/notify') return notify(req, res)
  res.writeHead(404, { 'content-type': 'application/json' })
  res.end(JSON.stringify({ error: 'not_found', message: 'not found' }))
})

server.listen(Number(process.env.PORT ?? 8080), '127.0.0.1', () => {
  console.log(JSON.stringify({ msg: 'deploy-notify listening', port: server.address().port }))
})
