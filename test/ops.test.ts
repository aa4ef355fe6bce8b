import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { request } from 'undici'
import { mkdir, rmdir } from 'node:fs/promises'
import { join } from 'node:path'
import { getJson, metric, notify, until } from './helpers/http.js'
import { startTestSidecar } from './helpers/sidecar.js'
import { Subscriber } from './helpers/stream.js'

const run = promisify(execFile)

describe('GET /healthz', () => {
  it('answers 200 while the process can serve', async () => {
    const sidecar = await startTestSidecar()
    try {
      const answer = await getJson(`${sidecar.url}/healthz`)
      expect(answer.status).toBe(200)
      expect(answer.json).toEqual({ status: 'ok' })
    } finally {
      await sidecar.close()
    }
  })
})

describe('GET /healthz with the file store', () => {
  it('turns 503 while the state file cannot be written, and back to 200 when it can', async () => {
    const sidecar = await startTestSidecar()
    try {
      // A folder where the temporary file goes makes every write fail, as a full or read-only disk would.
      const blocker = join(sidecar.dataDir, 'state.json.tmp')
      await mkdir(blocker)
      expect((await notify(sidecar.url, { app: 'web', version: 'v1' })).status).toBe(503)
      const down = await getJson(`${sidecar.url}/healthz`)
      expect(down.status).toBe(503)
      expect(down.json).toEqual({
        status: 'unavailable',
        error: 'DN_ERR_STORE_UNAVAILABLE',
        message: expect.stringMatching(/^cannot write .*state\.json: /),
      })
      expect(await metric(sidecar.url, 'deploy_notify_store_up')).toBe(0)
      await rmdir(blocker)
      await until(async () => (await getJson(`${sidecar.url}/healthz`)).status === 200, '/healthz to recover', 5000)
      expect((await notify(sidecar.url, { app: 'web', version: 'v1' })).status).toBe(202)
    } finally {
      await sidecar.close()
    }
  })
})

describe('GET /metrics', () => {
  it('shows open streams and deploys per app, and the broadcast duration', async () => {
    const sidecar = await startTestSidecar()
    const subscribers = [
      await Subscriber.open(sidecar.url, { app: 'web' }),
      await Subscriber.open(sidecar.url, { app: 'web' }),
      await Subscriber.open(sidecar.url, { app: 'admin' }),
    ]
    try {
      await notify(sidecar.url, { app: 'web', version: 'v1' })
      await notify(sidecar.url, { app: 'web', version: 'v2' })
      const response = await request(`${sidecar.url}/metrics`)
      expect(response.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/)
      await response.body.dump()
      expect(await metric(sidecar.url, 'deploy_notify_connections{app="web"}')).toBe(2)
      expect(await metric(sidecar.url, 'deploy_notify_connections{app="admin"}')).toBe(1)
      expect(await metric(sidecar.url, 'deploy_notify_deploys_total{app="web"}')).toBe(2)
      expect(await metric(sidecar.url, 'deploy_notify_broadcast_duration_seconds_count')).toBe(2)
    } finally {
      for (const s of subscribers) s.close()
      await sidecar.close()
    }
  })
})

describe('unknown routes', () => {
  it('answer 404 JSON naming the route', async () => {
    const sidecar = await startTestSidecar()
    try {
      const answer = await getJson(`${sidecar.url}/nope?x=1`)
      expect(answer.status).toBe(404)
      expect(answer.json).toEqual({ error: 'DN_ERR_NOT_FOUND', message: 'no route GET /nope' })
    } finally {
      await sidecar.close()
    }
  })
})

describe('closing the app', () => {
  it('ends its streams and leaves no timer, server or socket behind', async () => {
    // In a process of its own, where nothing else runs: it exits by itself only if closing
    // the app released everything (the fixture itself waits for nothing after that).
    const fixture = fileURLToPath(new URL('./fixtures/close-app.mjs', import.meta.url))
    const { stdout } = await run(process.execPath, [fixture], { timeout: 10_000 })
    expect(stdout).toBe('closed, left: [], timers: 0\n')
  })
})
