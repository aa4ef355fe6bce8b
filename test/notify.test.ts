import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { getJson, notify } from './helpers/http.js'
import { startTestSidecar, type TestSidecar } from './helpers/sidecar.js'
import { Subscriber } from './helpers/stream.js'

let sidecar: TestSidecar
let subscriber: Subscriber

beforeEach(async () => {
  sidecar = await startTestSidecar()
  subscriber = await Subscriber.open(sidecar.url, { app: 'web', version: 'v0' })
})
afterEach(async () => {
  subscriber.close()
  await sidecar.close()
})

/**
 * Proves that nothing was broadcast before: the next event the subscriber gets is this
 * fresh deploy, not anything a refused request might have sent.
 */
async function expectNoBroadcastSoFar(): Promise<void> {
  const before = subscriber.received.length
  expect((await notify(sidecar.url, { app: 'web', version: 'probe' })).status).toBe(202)
  await subscriber.next('deploy', 'probe')
  expect(subscriber.received.slice(before).map((r) => r.data.version)).toEqual(['probe'])
}

describe('POST /notify', () => {
  it('stores the deploy, answers 202 and pushes it to open pages', async () => {
    const answer = await notify(sidecar.url, { app: 'web', version: 'v1', message: 'Faster search', mandatory: true })
    expect(answer.status).toBe(202)
    expect(answer.json).toEqual({ app: 'web', version: 'v1', id: '1', delivered: 1 })

    const event = await subscriber.next('deploy', 'v1')
    expect(event.lastEventId).toBe('1')
    expect(event.data).toEqual({
      app: 'web',
      version: 'v1',
      id: '1',
      time: expect.any(String),
      message: 'Faster search',
      mandatory: true,
    })
    expect(new Date(event.data.time).toISOString()).toBe(event.data.time)
    expect((await getJson(`${sidecar.url}/version?app=web`)).json).toEqual(event.data)
  })

  it('uses the app "default" when none is named', async () => {
    const answer = await notify(sidecar.url, { version: 'v1' })
    expect(answer.json).toMatchObject({ app: 'default', version: 'v1' })
    expect((await getJson(`${sidecar.url}/version`)).json).toMatchObject({ app: 'default', version: 'v1' })
  })

  it('treats the current version again as a no-op, so CI may retry', async () => {
    await notify(sidecar.url, { app: 'web', version: 'v1' })
    const again = await notify(sidecar.url, { app: 'web', version: 'v1', message: 'retry' })
    expect(again.status).toBe(200)
    expect(again.json).toEqual({ app: 'web', version: 'v1', id: '1', unchanged: true })
    await subscriber.next('deploy', 'v1')
    await expectNoBroadcastSoFar()
    expect(subscriber.received.filter((r) => r.data.version === 'v1')).toHaveLength(1)
  })

  it('refuses a delayed notify with a lower sequence, and accepts a rollback with a higher one', async () => {
    expect((await notify(sidecar.url, { app: 'web', version: 'v2', sequence: 20 })).status).toBe(202)
    const late = await notify(sidecar.url, { app: 'web', version: 'v1', sequence: 19 })
    expect(late.status).toBe(409)
    expect(late.json).toEqual({ error: 'DN_ERR_STALE_SEQUENCE', message: expect.stringMatching(/19 is lower than 20/) })
    expect((await getJson(`${sidecar.url}/version?app=web`)).json).toMatchObject({ version: 'v2', sequence: 20 })

    const rollback = await notify(sidecar.url, { app: 'web', version: 'v1', sequence: 21 })
    expect(rollback.status).toBe(202)
    await subscriber.next('deploy', 'v1')
  })

  it('keeps apps apart', async () => {
    const other = await Subscriber.open(sidecar.url, { app: 'admin' })
    try {
      expect((await notify(sidecar.url, { app: 'admin', version: 'a1' })).json).toMatchObject({ delivered: 1 })
      await other.next('deploy', 'a1')
      await expectNoBroadcastSoFar()
      expect(subscriber.received.some((r) => r.data.app === 'admin')).toBe(false)
      expect(other.received.some((r) => r.data.app === 'web')).toBe(false)
    } finally {
      other.close()
    }
  })

  const refused: [string, unknown, { token?: string | null; contentType?: string | null }, number, string, RegExp][] = [
    [
      'a wrong token',
      { version: 'v9' },
      { token: 'not-the-token-at-all' },
      401,
      'DN_ERR_UNAUTHORIZED',
      /token is wrong/,
    ],
    ['no token', { version: 'v9' }, { token: null }, 401, 'DN_ERR_UNAUTHORIZED', /Authorization: Bearer/],
    ['malformed JSON', '{"version": "v9",', {}, 400, 'DN_ERR_INVALID_JSON', /not valid JSON/],
    ['an empty body', '', {}, 400, 'DN_ERR_INVALID_JSON', /empty/],
    [
      'text/plain',
      '{"version":"v9"}',
      { contentType: 'text/plain' },
      415,
      'DN_ERR_UNSUPPORTED_MEDIA_TYPE',
      /application\/json/,
    ],
    [
      'no content type',
      '{"version":"v9"}',
      { contentType: null },
      415,
      'DN_ERR_UNSUPPORTED_MEDIA_TYPE',
      /application\/json/,
    ],
    ['a body over 16 KiB', { version: 'v9', pad: 'x'.repeat(17 * 1024) }, {}, 413, 'DN_ERR_BODY_TOO_LARGE', /16 KiB/],
    ['an unknown field (a typo)', { verison: 'v9' }, {}, 400, 'DN_ERR_INVALID_REQUEST', /unknown field "verison"/],
    ['no version', { app: 'web' }, {}, 400, 'DN_ERR_INVALID_REQUEST', /needs the field "version"/],
    ['a version with a line feed', { version: 'v9\nevent: x' }, {}, 400, 'DN_ERR_INVALID_REQUEST', /^version must be/],
    [
      'a version of 129 characters',
      { version: 'v'.repeat(129) },
      {},
      400,
      'DN_ERR_INVALID_REQUEST',
      /^version must be/,
    ],
    ['an empty version', { version: '' }, {}, 400, 'DN_ERR_INVALID_REQUEST', /^version must be/],
    ['a bad app name', { app: 'web/../x', version: 'v9' }, {}, 400, 'DN_ERR_INVALID_REQUEST', /^app must be/],
    [
      'a message over 1000 characters',
      { version: 'v9', message: 'm'.repeat(1001) },
      {},
      400,
      'DN_ERR_INVALID_REQUEST',
      /^message must be/,
    ],
    [
      'mandatory as a string',
      { version: 'v9', mandatory: 'true' },
      {},
      400,
      'DN_ERR_INVALID_REQUEST',
      /^mandatory must be/,
    ],
    ['a fractional sequence', { version: 'v9', sequence: 1.5 }, {}, 400, 'DN_ERR_INVALID_REQUEST', /^sequence must be/],
    ['a JSON array', '[{"version":"v9"}]', {}, 400, 'DN_ERR_INVALID_REQUEST', /must be a JSON object/],
  ]
  it.each(refused)(
    'refuses %s with a clear error and changes nothing',
    async (_name, body, options, status, code, message) => {
      await notify(sidecar.url, { app: 'web', version: 'v1' })
      const answer = await notify(
        sidecar.url,
        typeof body === 'string' ? body : { app: 'web', ...(body as object) },
        options,
      )
      expect(answer.status).toBe(status)
      expect(answer.json).toEqual({ error: code, message: expect.stringMatching(message) })
      if (status === 401) expect(answer.headers['www-authenticate']).toMatch(/^Bearer/)
      expect((await getJson(`${sidecar.url}/version?app=web`)).json).toMatchObject({ version: 'v1', id: '1' })
      await expectNoBroadcastSoFar()
    },
  )

  it('answers 503 and changes nothing when the state cannot be written', async () => {
    await notify(sidecar.url, { app: 'web', version: 'v1' })
    // A folder where the temporary file goes makes the atomic write fail.
    await mkdir(join(sidecar.dataDir, 'state.json.tmp'))
    const answer = await notify(sidecar.url, { app: 'web', version: 'v2' })
    expect(answer.status).toBe(503)
    expect(answer.json).toEqual({
      error: 'DN_ERR_STORE_UNAVAILABLE',
      message: expect.stringMatching(/not stored: cannot write/),
    })
    expect((await getJson(`${sidecar.url}/version?app=web`)).json).toMatchObject({ version: 'v1' })
  })
})
