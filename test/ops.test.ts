import { describe, expect, it } from 'vitest'
import { request } from 'undici'
import { getJson, metric, notify } from './helpers/http.js'
import { startTestSidecar } from './helpers/sidecar.js'
import { Subscriber } from './helpers/stream.js'

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
  it('leaves no timer, server or socket running', async () => {
    // Timers and servers; client sockets of the test's own HTTP agent may linger on their own.
    const resources = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout' || r === 'TCPServerWrap')
    const before = resources()
    const sidecar = await startTestSidecar()
    const subscriber = await Subscriber.open(sidecar.url)
    expect(resources().length).toBeGreaterThan(before.length)
    const ended = new Promise<void>((resolve) => subscriber.source.addEventListener('error', () => resolve(), { once: true }))
    await sidecar.close()
    await ended
    subscriber.close()
    expect(resources()).toEqual(before)
  })
})
