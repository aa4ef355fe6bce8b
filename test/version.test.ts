import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { getJson, notify } from './helpers/http.js'
import { startTestSidecar, type TestSidecar } from './helpers/sidecar.js'

let sidecar: TestSidecar
beforeEach(async () => {
  sidecar = await startTestSidecar()
})
afterEach(async () => {
  await sidecar.close()
})

describe('GET /version', () => {
  it('answers 404 while no version of the app is known', async () => {
    const answer = await getJson(`${sidecar.url}/version?app=web`)
    expect(answer.status).toBe(404)
    expect(answer.json).toEqual({ error: 'DN_ERR_NO_VERSION', message: 'no version of app "web" is known yet' })
  })

  it('answers the current deploy with an ETag, and 304 when the browser has it', async () => {
    await notify(sidecar.url, { app: 'web', version: 'v1', message: 'hi' })
    const first = await getJson(`${sidecar.url}/version?app=web`)
    expect(first.status).toBe(200)
    expect(first.json).toEqual({ app: 'web', version: 'v1', id: '1', time: expect.any(String), message: 'hi' })
    expect(first.headers['cache-control']).toBe('no-cache')
    const etag = String(first.headers.etag)
    expect(etag).toMatch(/^"[\w-]+"$/)

    const again = await getJson(`${sidecar.url}/version?app=web`, { 'if-none-match': etag })
    expect(again.status).toBe(304)
    expect(again.headers.etag).toBe(etag)
    expect((await getJson(`${sidecar.url}/version?app=web`, { 'if-none-match': `"other", W/${etag}` })).status).toBe(
      304,
    )

    await notify(sidecar.url, { app: 'web', version: 'v2' })
    const changed = await getJson(`${sidecar.url}/version?app=web`, { 'if-none-match': etag })
    expect(changed.status).toBe(200)
    expect(changed.json).toMatchObject({ version: 'v2', id: '2' })
    expect(changed.headers.etag).not.toBe(etag)
  })

  it('refuses a malformed app name with 400', async () => {
    const answer = await getJson(`${sidecar.url}/version?app=${encodeURIComponent('<script>')}`)
    expect(answer.status).toBe(400)
    expect(answer.json).toMatchObject({
      error: 'DN_ERR_INVALID_REQUEST',
      message: expect.stringMatching(/^app must be/),
    })
  })
})
