import { readFile } from 'node:fs/promises'
import { gzipSync } from 'node:zlib'
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

  it('stays within its size budget: 3 KiB gzipped at most', async () => {
    const built = await readFile(new URL('../dist/client/client.js', import.meta.url))
    expect(gzipSync(built, { level: 9 }).length).toBeLessThanOrEqual(3 * 1024)
  })
})
