import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { getJson, notify } from './helpers/http.js'
import { findNginx, startNginx, type RunningNginx } from './helpers/nginx.js'
import { startTestSidecar, TOKEN, type TestSidecar } from './helpers/sidecar.js'
import { Subscriber } from './helpers/stream.js'

// nginx.conf is the example users copy; these tests run that very file in a real nginx.
const nginxBinary = findNginx()
if (!nginxBinary && !process.env.CI) {
  console.warn('\n!!! nginx not found: SKIPPING test/nginx.test.ts (set NGINX=/path/to/nginx; CI fails instead) !!!\n')
}

const INDEX_HTML = '<!doctype html><title>spa</title><p>release-2</p>'
const ASSET = 'console.log("app-abc123")\n'

describe.skipIf(!nginxBinary && !process.env.CI)('nginx.conf in front of the sidecar', () => {
  let sidecar: TestSidecar
  let nginx: RunningNginx
  let root: string
  let base: string

  beforeAll(async () => {
    if (!nginxBinary) throw new Error('nginx is required in CI: install it (apt-get install nginx-light) or set NGINX')
    root = await mkdtemp(join(tmpdir(), 'deploy-notify-spa-'))
    await writeFile(join(root, 'index.html'), INDEX_HTML)
    await mkdir(join(root, 'assets'))
    await writeFile(join(root, 'assets', 'app-abc123.js'), ASSET)
    // A short keepalive, so a held-back comment shows within the test's bound.
    // A short retry, so a page reconnects after a reload within the test's bound.
    sidecar = await startTestSidecar({ KEEPALIVE_MS: '1000', RETRY_MS: '200' })
    nginx = await startNginx(nginxBinary, { root, upstream: `127.0.0.1:${sidecar.port}` })
    base = `${nginx.url}/deploy-notify`
  })

  afterAll(async () => {
    await nginx?.stop()
    await sidecar?.close()
    if (root) await rm(root, { recursive: true, force: true })
  })

  it('delivers a deploy event through nginx at once, on a stream that stays open', async () => {
    const subscriber = await Subscriber.open(base, { app: 'through-nginx', version: 'v1' })
    const errors: unknown[] = []
    subscriber.source.addEventListener('error', (event) => errors.push(event))
    try {
      const answer = await notify(sidecar.url, { app: 'through-nginx', version: 'v2', message: 'hello' })
      expect(answer.status).toBe(202)
      expect(answer.json.delivered).toBe(1)
      // A buffering proxy holds these few hundred bytes until its buffer fills or the stream ends.
      const event = await subscriber.next('deploy', 'v2', 2000)
      expect(event.data).toMatchObject({ app: 'through-nginx', version: 'v2', message: 'hello' })
      expect(event.lastEventId).toBe(event.data.id)
      // Received on the first, still open stream: no reconnect (which fires `error`) delivered it.
      expect(subscriber.source.readyState).toBe(subscriber.source.OPEN)
      expect(errors).toEqual([])
    } finally {
      subscriber.close()
    }
  })

  it('passes keepalive comments through without holding them back', async () => {
    const started = Date.now()
    // As a browser asks: a proxy that compressed the stream would hold frames back too.
    // A buffering proxy holds back the head as well, so the bound covers it.
    const response = await request(`${base}/events?app=keepalive-only`, {
      headers: { 'accept-encoding': 'gzip, deflate, br' },
      headersTimeout: 2500,
    })
    try {
      expect(response.statusCode).toBe(200)
      expect(response.headers['content-type']).toMatch(/^text\/event-stream/)
      expect(response.headers['cache-control']).toBe('no-cache')
      expect(response.headers['content-encoding']).toBeUndefined()
      // No version is known for this app and nothing is notified: only comments can arrive.
      let body = ''
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no keepalive comment through nginx within 2500 ms; got ${JSON.stringify(body)}`)),
          2500 - (Date.now() - started),
        )
        response.body.on('data', (chunk: Buffer) => {
          body += chunk.toString('utf8')
          // The opening frame ends with a blank line; a keepalive is a lone ":" line after it.
          if (body.includes('\n\n:\n\n')) {
            clearTimeout(timer)
            resolve()
          }
        })
        response.body.once('error', (error) => (clearTimeout(timer), reject(error)))
      })
      expect(Date.now() - started).toBeLessThan(2500)
      expect(body).toMatch(/^: deploy-notify\nretry: \d+\n\n/)
      expect(body).not.toContain('event:')
    } finally {
      response.body.destroy()
    }
  })

  it('never stores index.html or the SPA fallback, and caches hashed assets for good', async () => {
    for (const path of ['/', '/index.html', '/some/client/route']) {
      const response = await request(`${nginx.url}${path}`)
      expect(response.statusCode, path).toBe(200)
      expect(response.headers['cache-control'], path).toBe('no-store')
      expect(await response.body.text(), path).toBe(INDEX_HTML)
    }

    const asset = await request(`${nginx.url}/assets/app-abc123.js`)
    expect(asset.statusCode).toBe(200)
    expect(await asset.body.text()).toBe(ASSET)
    expect(asset.headers['content-type']).toMatch(/javascript/)
    const cacheControl = String(asset.headers['cache-control'])
    expect(cacheControl).toMatch(/\bimmutable\b/)
    expect(Number(/max-age=(\d+)/.exec(cacheControl)?.[1])).toBeGreaterThanOrEqual(365 * 24 * 3600)

    // A chunk of an older release is gone: a 404 the client notices, not index.html cached for a year.
    const missing = await request(`${nginx.url}/assets/app-old999.js`)
    await missing.body.dump()
    expect(missing.statusCode).toBe(404)
    expect(String(missing.headers['cache-control'] ?? '')).not.toMatch(/immutable/)
  })

  it('proxies /deploy-notify/version with its query and ETag', async () => {
    expect((await getJson(`${base}/version?app=never-deployed`)).status).toBe(404)

    expect((await notify(sidecar.url, { app: 'versioned', version: 'v7' })).status).toBe(202)
    const answer = await getJson(`${base}/version?app=versioned`)
    expect(answer.status).toBe(200)
    expect(answer.json).toMatchObject({ app: 'versioned', version: 'v7' })
    const etag = answer.headers.etag
    expect(typeof etag).toBe('string')
    expect((await getJson(`${base}/version?app=versioned`, { 'if-none-match': String(etag) })).status).toBe(304)
  })

  it('reuses its connections to the sidecar (upstream keepalive)', async () => {
    let opened = 0
    const count = (): void => void opened++
    sidecar.app.server.on('connection', count)
    try {
      for (let i = 0; i < 6; i++) await getJson(`${base}/version?app=never-deployed`)
    } finally {
      sidecar.app.server.off('connection', count)
    }
    // At most one new connection per nginx worker; without keepalive it would be one per request.
    expect(opened).toBeLessThanOrEqual(2)
  })

  it('does not expose notify, metrics or status', async () => {
    // The right token, so only nginx can be what refuses it.
    const answer = await request(`${base}/notify`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ app: 'hidden', version: 'v1' }),
    })
    await answer.body.dump()
    expect(answer.statusCode).not.toBe(202)
    expect(answer.statusCode).toBe(404)
    expect(sidecar.store.current('hidden')).toBeUndefined()

    for (const path of ['/metrics', '/status', '/healthz', '/notify']) {
      const response = await request(`${base}${path}`)
      await response.body.dump()
      expect(response.statusCode, path).toBe(404)
    }
  })

  it('ends open streams on reload, and they reconnect to the new workers', async () => {
    const subscriber = await Subscriber.open(base, { app: 'reloaded' })
    try {
      const reopened = new Promise<void>((resolve) =>
        subscriber.source.addEventListener('open', () => resolve(), { once: true }),
      )
      process.kill(nginx.pid, 'SIGHUP')
      // Old workers close what they hold after worker_shutdown_timeout (1 s in the test);
      // without it the stream would stay on an old worker for as long as the page is open.
      await Promise.race([
        reopened,
        new Promise<never>((_, reject) =>
          setTimeout(() => reject(new Error('the stream did not reconnect within 4 s of a reload')), 4000),
        ),
      ])
      expect((await notify(sidecar.url, { app: 'reloaded', version: 'after-reload' })).status).toBe(202)
      await subscriber.next('deploy', 'after-reload', 2000)
    } finally {
      subscriber.close()
    }
  })
})
