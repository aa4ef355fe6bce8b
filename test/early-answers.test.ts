import { mkdtemp, rm } from 'node:fs/promises'
import { request as httpRequest } from 'node:http'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LINGER_MS } from '../server/lingering-close.js'
import { spawnSidecar, type SidecarProcess } from './helpers/process.js'
import { TOKEN } from './helpers/sidecar.js'

// An answer sent before the request's body is read (413 past the body limit, 401 before it)
// must reach every HTTP client, not only curl: the sidecar runs as its own process, and Node's
// own clients post 2 MB bodies, as a CI script in Node would by mistake.
let sidecar: SidecarProcess
let dataDir: string
beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'deploy-notify-early-'))
  sidecar = await spawnSidecar({ NOTIFY_TOKEN: TOKEN, DATA_DIR: dataDir })
})
afterAll(async () => {
  sidecar?.child.kill('SIGTERM')
  await sidecar?.exited.catch(() => undefined)
  await rm(dataDir, { recursive: true, force: true })
})

const body = (megabytes: number): Buffer =>
  Buffer.from(JSON.stringify({ version: 'v1', message: 'x'.repeat(megabytes * 1024 * 1024) }))

/**
 * On a loopback whose socket buffers hold 2 MB, the client has written it all before the
 * sidecar closes; 8 MB is still being sent then (this is how a closing sidecar lost its 413:
 * EPIPE for about half of these before lingering closes).
 */
const BODIES = [body(2), body(8)]
const ROUNDS = 20

interface Answer {
  status: number | undefined
  json: unknown
}

/** POSTs with Node's `http`, as a CI script without a library would; rejects on a network error. */
function postWithHttp(url: string, body: Buffer, headers: Record<string, string>): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      url,
      { method: 'POST', headers: { ...headers, 'content-type': 'application/json', 'content-length': body.length } },
      (response) => {
        let text = ''
        response.setEncoding('utf8')
        response.on('data', (chunk: string) => (text += chunk))
        response.on('end', () => resolve({ status: response.statusCode, json: JSON.parse(text) }))
        response.on('error', reject)
      },
    )
    request.on('error', reject)
    request.end(body)
  })
}

async function postWithFetch(url: string, body: Buffer, headers: Record<string, string>): Promise<Answer> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json' },
    body: new Uint8Array(body),
  })
  return { status: response.status, json: await response.json() }
}

const tooLarge = { status: 413, json: { error: 'DN_ERR_BODY_TOO_LARGE', message: 'the body is larger than 16 KiB' } }

describe('an answer before the body is read', () => {
  it(`reaches Node's http client ${ROUNDS} times out of ${ROUNDS}: 413 with its JSON error for 2 MB and 8 MB`, async () => {
    for (const large of BODIES) {
      const answers: Answer[] = []
      for (let i = 0; i < ROUNDS; i++) {
        answers.push(await postWithHttp(`${sidecar.url}/notify`, large, { authorization: `Bearer ${TOKEN}` }))
      }
      expect(answers).toEqual(Array.from({ length: ROUNDS }, () => tooLarge))
    }
  })

  it(`reaches fetch() ${ROUNDS} times out of ${ROUNDS}: 413 with its JSON error for 2 MB and 8 MB`, async () => {
    for (const large of BODIES) {
      const answers: Answer[] = []
      for (let i = 0; i < ROUNDS; i++) {
        answers.push(await postWithFetch(`${sidecar.url}/notify`, large, { authorization: `Bearer ${TOKEN}` }))
      }
      expect(answers).toEqual(Array.from({ length: ROUNDS }, () => tooLarge))
    }
  })

  it('reaches both when the token is missing: 401, before a byte of the body is read', async () => {
    for (const post of [postWithHttp, postWithFetch]) {
      for (const large of [...BODIES, ...BODIES]) {
        const answer = await post(`${sidecar.url}/notify`, large, {})
        expect(answer).toMatchObject({ status: 401, json: { error: 'DN_ERR_UNAUTHORIZED' } })
      }
    }
    // Nothing was stored by any of them.
    expect((await fetch(`${sidecar.url}/version`)).status).toBe(404)
  })

  it(`closes a connection that keeps sending after the answer within ${LINGER_MS / 1000} s`, async () => {
    // Half-open allowed: it goes on sending after the sidecar's FIN, as a stubborn client would.
    const socket = connect({ port: sidecar.port, host: '127.0.0.1', allowHalfOpen: true })
    let text = ''
    socket.on('data', (chunk: Buffer) => (text += chunk.toString()))
    socket.on('error', () => {}) // the close may come as a reset while it still sends
    const opened = Date.now()
    const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now() - opened)))
    socket.write(
      `POST /notify HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\n` +
        'Content-Type: application/json\r\nContent-Length: 1000000000\r\n\r\n',
    )
    // A client that never stops: 64 KiB every 50 ms, far less than the declared gigabyte.
    const trickle = setInterval(() => socket.write(Buffer.alloc(64 * 1024, 'a')), 50)
    try {
      const after = await Promise.race([closed, new Promise<number>((resolve) => setTimeout(resolve, 10_000, -1))])
      expect(after).toBeGreaterThan(0)
      expect(after).toBeLessThan(LINGER_MS + 1500)
    } finally {
      clearInterval(trickle)
      socket.destroy()
    }
    expect(text.match(/HTTP\/1\.1 \d{3}/g)).toEqual(['HTTP/1.1 413'])
    expect(text).toMatch(/\r\nconnection: close\r\n/i)
  })
})
