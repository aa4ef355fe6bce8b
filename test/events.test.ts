import { afterEach, describe, expect, it } from 'vitest'
import { request } from 'undici'
import { metric, notify, until } from './helpers/http.js'
import { startTestSidecar, type TestSidecar } from './helpers/sidecar.js'
import { Subscriber } from './helpers/stream.js'

const sidecars: TestSidecar[] = []
const subscribers: Subscriber[] = []
afterEach(async () => {
  for (const s of subscribers.splice(0)) s.close()
  for (const s of sidecars.splice(0)) await s.close()
})

async function start(env: Record<string, string> = {}): Promise<TestSidecar> {
  const sidecar = await startTestSidecar(env)
  sidecars.push(sidecar)
  return sidecar
}

async function subscribe(...args: Parameters<typeof Subscriber.open>): Promise<Subscriber> {
  const subscriber = await Subscriber.open(...args)
  subscribers.push(subscriber)
  return subscriber
}

/** Opens `/events` with undici and reads the raw body until `done(text)` says so, within a bound. */
async function readRaw(
  url: string,
  done: (text: string) => boolean,
  headers: Record<string, string> = {},
  timeoutMs = 5000,
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }> {
  const controller = new AbortController()
  const timer = setTimeout(() => controller.abort(), timeoutMs)
  const response = await request(url, { headers, signal: controller.signal })
  let text = ''
  try {
    for await (const chunk of response.body) {
      text += String(chunk)
      if (done(text)) break
    }
  } catch (error) {
    throw new Error(`stream ended before the expected bytes within ${timeoutMs} ms: ${JSON.stringify(text)}`, {
      cause: error,
    })
  } finally {
    clearTimeout(timer)
    controller.abort()
  }
  return { status: response.statusCode, headers: response.headers, text }
}

describe('GET /events', () => {
  it('answers with an event stream that proxies do not buffer or cache', async () => {
    const sidecar = await start()
    const raw = await readRaw(`${sidecar.url}/events`, (t) => t.includes('retry:'))
    expect(raw.status).toBe(200)
    expect(raw.headers['content-type']).toBe('text/event-stream; charset=utf-8')
    expect(raw.headers['cache-control']).toBe('no-cache')
    expect(raw.headers['x-accel-buffering']).toBe('no')
  })

  it('hints a retry delay with jitter per connection, never below RETRY_MS', async () => {
    const sidecar = await start({ RETRY_MS: '2000' })
    const delays = new Set<number>()
    for (let i = 0; i < 6; i++) {
      const raw = await readRaw(`${sidecar.url}/events`, (t) => /retry: \d+\n/.test(t))
      delays.add(Number(/retry: (\d+)\n/.exec(raw.text)?.[1]))
    }
    for (const delay of delays) expect(delay).toBeGreaterThanOrEqual(2000)
    for (const delay of delays) expect(delay).toBeLessThan(3000)
    expect(delays.size).toBeGreaterThan(1)
  })

  it('sends the current version on connect, with its id', async () => {
    const sidecar = await start()
    await notify(sidecar.url, { app: 'web', version: 'v1', message: 'hello' })
    const subscriber = await subscribe(sidecar.url, { app: 'web', version: 'v0' })
    const event = await subscriber.next('version', 'v1')
    expect(event.lastEventId).toBe('1')
    expect(event.data).toMatchObject({ app: 'web', version: 'v1', id: '1', message: 'hello' })
  })

  it('sends no version event while no version is known', async () => {
    const sidecar = await start()
    const subscriber = await subscribe(sidecar.url, { app: 'web' })
    await notify(sidecar.url, { app: 'web', version: 'v1' })
    await subscriber.next('deploy', 'v1')
    expect(subscriber.received.map((r) => r.type)).toEqual(['deploy'])
  })

  it('skips the version event for a browser whose Last-Event-ID is already the current id', async () => {
    const sidecar = await start()
    await notify(sidecar.url, { app: 'web', version: 'v1' })
    const current = await subscribe(sidecar.url, { app: 'web', headers: { 'last-event-id': '1' } })
    const behind = await subscribe(sidecar.url, { app: 'web', headers: { 'last-event-id': '0' } })
    await notify(sidecar.url, { app: 'web', version: 'v2' })
    await current.next('deploy', 'v2')
    await behind.next('deploy', 'v2')
    expect(current.received.map((r) => `${r.type} ${r.data.version}`)).toEqual(['deploy v2'])
    expect(behind.received.map((r) => `${r.type} ${r.data.version}`)).toEqual(['version v1', 'deploy v2'])
  })

  it('sends a keepalive comment every KEEPALIVE_MS', async () => {
    const sidecar = await start({ KEEPALIVE_MS: '1000' })
    const started = Date.now()
    const raw = await readRaw(`${sidecar.url}/events`, (t) => t.split(':\n\n').length > 2, {}, 3500)
    expect(raw.text).toMatch(/^: deploy-notify\nretry: \d+\n\n:\n\n:\n\n$/)
    expect(Date.now() - started).toBeGreaterThanOrEqual(1500)
  })

  it('refuses a malformed app or version with 400', async () => {
    const sidecar = await start()
    for (const query of ['app=a%0Ab', 'app=' + 'x'.repeat(65), 'version=%0Aevent:%20x']) {
      const response = await request(`${sidecar.url}/events?${query}`)
      expect(response.statusCode).toBe(400)
      expect(await response.body.json()).toMatchObject({ error: 'DN_ERR_INVALID_REQUEST' })
    }
    expect(await metric(sidecar.url, 'deploy_notify_connections{app="default"}')).toBe(0)
  })

  it('has no HEAD variant, whose answer could not carry the stream', async () => {
    const sidecar = await start()
    const response = await request(`${sidecar.url}/events`, { method: 'HEAD' })
    expect(response.statusCode).toBe(404)
    await response.body.dump()
    expect(await metric(sidecar.url, 'deploy_notify_connections{app="default"}')).toBe(0)
  })

  it('forgets a closed stream at once', async () => {
    const sidecar = await start()
    const subscriber = await subscribe(sidecar.url, { app: 'web' })
    expect(await metric(sidecar.url, 'deploy_notify_connections{app="web"}')).toBe(1)
    subscriber.close()
    await until(
      async () => (await metric(sidecar.url, 'deploy_notify_connections{app="web"}')) === 0,
      'the gauge to drop',
    )
  })

  it('answers 503 with Retry-After beyond MAX_CONNECTIONS, and admits again once a stream closes', async () => {
    const sidecar = await start({ MAX_CONNECTIONS: '2', MAX_STREAMS_PER_ADDRESS: '2', RETRY_MS: '2500' })
    const first = await subscribe(sidecar.url)
    await subscribe(sidecar.url)
    const refused = await request(`${sidecar.url}/events`)
    expect(refused.statusCode).toBe(503)
    expect(refused.headers['retry-after']).toBe('3')
    expect(await refused.body.json()).toEqual({
      error: 'DN_ERR_TOO_MANY_STREAMS',
      message: expect.stringMatching(/maximum of 2 streams/),
    })
    first.close()
    await until(
      async () => (await metric(sidecar.url, 'deploy_notify_connections{app="default"}')) === 1,
      'a free slot',
    )
    await subscribe(sidecar.url)
  })
})

describe('CORS', () => {
  it('lets any origin subscribe by default', async () => {
    const sidecar = await start()
    const raw = await readRaw(`${sidecar.url}/events`, (t) => t.includes('retry:'), { origin: 'https://app.example' })
    expect(raw.headers['access-control-allow-origin']).toBe('*')
  })

  it('allows the listed origins and no others', async () => {
    const sidecar = await start({ CORS_ORIGINS: 'https://app.example, https://admin.example' })
    const allowed = await readRaw(`${sidecar.url}/events`, (t) => t.includes('retry:'), {
      origin: 'https://admin.example',
    })
    expect(allowed.headers['access-control-allow-origin']).toBe('https://admin.example')
    expect(allowed.headers.vary).toMatch(/Origin/i)
    const refused = await readRaw(`${sidecar.url}/events`, (t) => t.includes('retry:'), {
      origin: 'https://evil.example',
    })
    expect(refused.headers['access-control-allow-origin']).toBeUndefined()
    const version = await request(`${sidecar.url}/version`, { headers: { origin: 'https://evil.example' } })
    await version.body.dump()
    expect(version.headers['access-control-allow-origin']).toBeUndefined()
  })
})
