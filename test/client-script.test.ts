import { readFile } from 'node:fs/promises'
import { brotliDecompressSync, gunzipSync, gzipSync } from 'node:zlib'
import { request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestSidecar, type TestSidecar } from './helpers/sidecar.js'

let sidecar: TestSidecar
beforeAll(async () => {
  sidecar = await startTestSidecar()
})
afterAll(async () => {
  await sidecar.close()
})

describe('GET /client.js', () => {
  it('serves the built classic script, revalidated with an ETag, loadable from any origin', async () => {
    const built = await readFile(new URL('../dist/client/client.js', import.meta.url))
    const response = await request(`${sidecar.url}/client.js`, { headers: { origin: 'https://app.example' } })
    expect(response.statusCode).toBe(200)
    expect(Buffer.from(await response.body.arrayBuffer())).toEqual(built)
    expect(response.headers['content-type']).toBe('text/javascript; charset=utf-8')
    expect(response.headers['cache-control']).toBe('no-cache')
    expect(response.headers['access-control-allow-origin']).toBe('*')
    const etag = String(response.headers.etag)

    const again = await request(`${sidecar.url}/client.js`, { headers: { 'if-none-match': etag } })
    expect(again.statusCode).toBe(304)
    await again.body.dump()
  })

  it('stays within its size budget: 2,355 B gzipped at most, below workbox-window', async () => {
    const built = await readFile(new URL('../dist/client/client.js', import.meta.url))
    expect(gzipSync(built, { level: 9 }).length).toBeLessThanOrEqual(2355)
  })
})

describe('GET /client.js, compressed', () => {
  it.each([
    { accept: 'gzip, deflate, br', encoding: 'br' },
    { accept: 'gzip', encoding: 'gzip' },
    { accept: 'br;q=0, gzip', encoding: 'gzip' },
  ])('answers "$accept" with $encoding, Vary and an ETag of its own, and 304 on it', async ({ accept, encoding }) => {
    const built = await readFile(new URL('../dist/client/client.js', import.meta.url))
    const response = await request(`${sidecar.url}/client.js`, { headers: { 'accept-encoding': accept } })
    expect(response.statusCode).toBe(200)
    expect(response.headers['content-encoding']).toBe(encoding)
    expect(response.headers.vary).toMatch(/accept-encoding/i)
    const body = Buffer.from(await response.body.arrayBuffer())
    expect(encoding === 'br' ? brotliDecompressSync(body) : gunzipSync(body)).toEqual(built)
    expect(body.length).toBeLessThan(built.length / 2)
    const etag = String(response.headers.etag)

    const plain = await request(`${sidecar.url}/client.js`)
    await plain.body.dump()
    expect(plain.headers['content-encoding']).toBeUndefined()
    expect(plain.headers.etag).not.toBe(etag)

    const again = await request(`${sidecar.url}/client.js`, {
      headers: { 'accept-encoding': accept, 'if-none-match': etag },
    })
    await again.body.dump()
    expect(again.statusCode).toBe(304)
  })

  it('serves the part loaded on demand, client-ui.js, the same way', async () => {
    const response = await request(`${sidecar.url}/client-ui.js`, { headers: { 'accept-encoding': 'br' } })
    await response.body.dump()
    expect(response.statusCode).toBe(200)
    expect(response.headers['content-encoding']).toBe('br')
    expect(response.headers['content-type']).toBe('text/javascript; charset=utf-8')
  })
})
