import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { freePort } from './helpers/free-port.js'
import { getJson } from './helpers/http.js'
import { runCli } from './helpers/process.js'
import { startTestSidecar, TOKEN, type TestSidecar } from './helpers/sidecar.js'
import { Subscriber } from './helpers/stream.js'

// `deploy-notify notify` is run as CI runs it: the built CLI in its own process (npm test builds first).
let sidecar: TestSidecar
beforeEach(async () => {
  sidecar = await startTestSidecar()
})
afterEach(async () => {
  await sidecar.close()
})

const NOW = '2026-12-07T12:00:00.000Z'
const notifyCli = (args: string[], token: string = TOKEN) => runCli(['notify', ...args], { NOTIFY_TOKEN: token })

describe('deploy-notify notify', () => {
  it('announces a deploy, exits 0 and the sidecar serves the new version', async () => {
    const page = await Subscriber.open(sidecar.url, { app: 'web', version: 'v1' })
    try {
      // A trailing slash on the base URL must not become `//notify`.
      const exit = await notifyCli([
        '--url',
        `${sidecar.url}/`,
        '--app',
        'web',
        '--version',
        'v2',
        '--message',
        'New search',
        '--mandatory',
      ])
      expect(exit.stdout).toBe('deploy-notify: deployed app "web" version "v2" (id 1), delivered to 1 open page\n')
      expect(exit.code).toBe(0)
      expect((await page.next('deploy', 'v2')).data).toMatchObject({ message: 'New search', mandatory: true })
    } finally {
      page.close()
    }
    const current = await getJson(`${sidecar.url}/version?app=web`)
    expect(current.status).toBe(200)
    expect(current.json).toMatchObject({ app: 'web', version: 'v2', id: '1' })
  })

  it('--dist announces the version and app the build was stamped with, and refuses a --version or --app that disagrees', async () => {
    const dist = await mkdtemp(join(tmpdir(), 'deploy-notify-dist-'))
    try {
      await writeFile(join(dist, 'version.json'), JSON.stringify({ version: 'b7c9d1e', app: 'web', time: NOW }))
      const page = await Subscriber.open(sidecar.url, { app: 'web', version: 'a0a0a0a' })
      try {
        const exit = await notifyCli(['--url', sidecar.url, '--dist', dist, '--message', 'New search'])
        expect(exit.stdout).toBe(
          'deploy-notify: deployed app "web" version "b7c9d1e" (id 1), delivered to 1 open page\n',
        )
        expect(exit.code).toBe(0)
        expect((await page.next('deploy', 'b7c9d1e')).data).toMatchObject({ message: 'New search' })
      } finally {
        page.close()
      }
      // The same values, said twice, agree; another version or app is refused before anything is sent.
      expect(
        (await notifyCli(['--url', sidecar.url, '--dist', dist, '--version', 'b7c9d1e', '--app', 'web'])).code,
      ).toBe(0)
      for (const [flag, value, said] of [
        ['--version', 'f3c1a9e0b7d2c4e6a8b0c2d4e6f8a0b2c4d6e8f0', 'version "b7c9d1e"'],
        ['--app', 'shop', 'app "web"'],
      ] as const) {
        const refused = await notifyCli(['--url', sidecar.url, '--dist', dist, flag, value])
        expect(refused.code).toBe(1)
        expect(refused.stderr).toContain(
          `deploy-notify: ${flag} "${value}" disagrees with ${join(dist, 'version.json')}, which says ${said}: the pages of that build carry its version`,
        )
        expect(refused.stderr).toMatch(/; nothing was notified\n$/)
      }
      // No version.json (a build never stamped) or one that is not ours: refused, naming the file.
      await rm(join(dist, 'version.json'))
      const missing = await notifyCli(['--url', sidecar.url, '--dist', dist])
      expect(missing.code).toBe(1)
      expect(missing.stderr).toMatch(/version\.json does not exist \(--dist .*\): stamp the build first/)
      await writeFile(join(dist, 'version.json'), '{"hash":"abc"}')
      const foreign = await notifyCli(['--url', sidecar.url, '--dist', dist])
      expect(foreign.code).toBe(1)
      expect(foreign.stderr).toMatch(/names no valid version and app/)
    } finally {
      await rm(dist, { recursive: true, force: true })
    }
    expect((await getJson(`${sidecar.url}/version?app=web`)).json).toMatchObject({ version: 'b7c9d1e', id: '1' })
    expect((await getJson(`${sidecar.url}/version?app=shop`)).status).toBe(404)
  })

  it('exits 0 and says unchanged when the version is already current (CI retries are safe)', async () => {
    expect((await notifyCli(['--url', sidecar.url, '--version', 'v1'])).code).toBe(0)
    const again = await notifyCli(['--url', sidecar.url, '--version', 'v1'])
    expect(again.code).toBe(0)
    expect(again.stdout).toMatch(/^deploy-notify: unchanged: app "default" is already at version "v1" \(id 1\)\n$/)
  })

  it('sends no Authorization header without NOTIFY_TOKEN or a token file, and the sidecar says where the token is', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'deploy-notify-no-token-'))
    try {
      const exit = await runCli(['notify', '--url', sidecar.url, '--version', 'v1'], {
        NOTIFY_TOKEN: '',
        DATA_DIR: empty,
      })
      expect(exit.code).toBe(1)
      expect(exit.stderr).toMatch(/401 DN_ERR_UNAUTHORIZED: an Authorization: Bearer .* DATA_DIR\/notify-token/)
    } finally {
      await rm(empty, { recursive: true, force: true })
    }
  })

  it('exits 1 on a wrong token, naming the token, without retrying', async () => {
    const exit = await notifyCli(['--url', sidecar.url, '--version', 'v1'], 'not-the-token-0123456789')
    expect(exit.code).toBe(1)
    expect(exit.stderr).toBe(
      'deploy-notify: the sidecar rejected the deploy: 401 DN_ERR_UNAUTHORIZED: the bearer token is wrong\n',
    )
  })

  it('exits 1 on an invalid version, naming the field', async () => {
    const exit = await notifyCli(['--url', sidecar.url, '--version', 'v1\nevent: x'])
    expect(exit.code).toBe(1)
    expect(exit.stderr).toMatch(
      /^deploy-notify: the sidecar rejected the deploy: 400 DN_ERR_INVALID_REQUEST: version must be /,
    )
    expect((await getJson(`${sidecar.url}/version`)).status).toBe(404)
  })

  it('exits 1 with 409 when the sequence is lower than the current one', async () => {
    expect((await notifyCli(['--url', sidecar.url, '--version', 'v5', '--sequence', '5'])).code).toBe(0)
    const exit = await notifyCli(['--url', sidecar.url, '--version', 'v4', '--sequence', '4'])
    expect(exit.code).toBe(1)
    expect(exit.stderr).toMatch(/ 409 DN_ERR_STALE_SEQUENCE: sequence 4 is lower than 5 /)
    expect((await getJson(`${sidecar.url}/version`)).json).toMatchObject({ version: 'v5' })
  })

  it.each([
    [['--version', 'v1'], /needs --url, and --dist or --version/],
    [['--url', 'http://127.0.0.1:1'], /needs --url, and --dist or --version/],
    [['--url', 'http://127.0.0.1:1', '--version', 'v1', '--timeout', 'soon'], /--timeout "soon" is not a duration/],
    [['--url', 'http://127.0.0.1:1', '--version', 'v1', '--sequence', '1.5'], /--sequence "1.5" is not an integer/],
    [['--url', 'sidecar.example', '--version', 'v1'], /--url "sidecar.example" is not a URL/],
    [['--url', 'http://127.0.0.1:1', '--version', 'v1', '--verison', 'v2'], /Unknown option '--verison'/],
  ])('exits 2 on a usage error: %j', async (args, message) => {
    const exit = await notifyCli(args)
    expect(exit.code).toBe(2)
    expect(exit.stderr).toMatch(message)
    expect(exit.stdout).toBe('')
  })

  it('prints its help, exit codes included, with exit 0', async () => {
    const exit = await notifyCli(['--help'])
    expect(exit.code).toBe(0)
    expect(exit.stdout).toMatch(/Exit codes:\n {2}0 .*\n {2}1 .*\n {2}2 .*\n {2}3 /)
  })

  it('exits 3 once --timeout runs out against a port nothing listens on', async () => {
    const started = Date.now()
    const exit = await runCli(
      ['notify', '--url', `http://127.0.0.1:${await freePort()}`, '--version', 'v1', '--timeout', '1s'],
      {},
      5000,
    )
    expect(exit.code).toBe(3)
    expect(Date.now() - started).toBeLessThan(4000)
    expect(exit.stderr).toMatch(
      /could not reach http:\/\/127.0.0.1:\d+\/notify within 1s \(\d+ attempts\); last error: connect ECONNREFUSED/,
    )
  })

  it('exits 3 within --timeout when the sidecar accepts connections but never answers', async () => {
    const silent = createServer(() => {})
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
    try {
      const started = Date.now()
      const exit = await notifyCli([
        '--url',
        `http://127.0.0.1:${(silent.address() as AddressInfo).port}`,
        '--version',
        'v1',
        '--timeout',
        '1s',
      ])
      expect(exit.code).toBe(3)
      expect(Date.now() - started).toBeLessThan(4000)
      expect(exit.stderr).toMatch(/last error: no answer within the attempt timeout\n$/)
    } finally {
      silent.closeAllConnections()
      await new Promise((resolve) => silent.close(resolve))
    }
  })

  it('retries 5xx answers and exits 0 once the sidecar behind a proxy accepts', async () => {
    const proxy = await flakyProxy(sidecar.url, 2)
    try {
      const exit = await notifyCli(['--url', `${proxy.url}/dn`, '--app', 'web', '--version', 'v3', '--timeout', '10s'])
      expect(exit.code).toBe(0)
      expect(exit.stdout).toMatch(/deployed app "web" version "v3"/)
      expect(
        exit.stderr.match(/attempt \d failed \(503 DN_ERR_STORE_UNAVAILABLE: restarting\); retrying in \d+ ms/g),
      ).toHaveLength(2)
      // Every attempt is the same request, so the sidecar sees exactly what CI meant to send.
      expect(proxy.requests).toHaveLength(3)
      expect(new Set(proxy.requests).size).toBe(1)
      expect(proxy.requests[0]).toBe(`POST /dn/notify application/json Bearer ${TOKEN} {"version":"v3","app":"web"}`)
    } finally {
      await proxy.close()
    }
    expect((await getJson(`${sidecar.url}/version?app=web`)).json).toMatchObject({ version: 'v3' })
  })

  it('exits 3 when the sidecar answers 5xx until --timeout runs out', async () => {
    const proxy = await flakyProxy(sidecar.url, Infinity)
    try {
      const exit = await notifyCli(['--url', `${proxy.url}/dn`, '--version', 'v1', '--timeout', '1s'])
      expect(exit.code).toBe(3)
      expect(exit.stderr).toMatch(/\(\d+ attempts\); last error: 503 DN_ERR_STORE_UNAVAILABLE: restarting\n$/)
      expect(proxy.requests.length).toBeGreaterThan(1)
    } finally {
      await proxy.close()
    }
  })
})

/**
 * A reverse proxy mounting the sidecar under `/dn` that answers 503 to the first `failures`
 * requests, as one does while the sidecar restarts. Records each request as one line.
 */
async function flakyProxy(
  target: string,
  failures: number,
): Promise<{ url: string; requests: string[]; close(): Promise<void> }> {
  const requests: string[] = []
  const server: Server = createServer((request: IncomingMessage, response) => {
    void (async () => {
      let body = ''
      for await (const chunk of request) body += String(chunk)
      const { authorization = '', 'content-type': contentType = '' } = request.headers
      requests.push(`${request.method} ${request.url} ${contentType} ${authorization} ${body}`)
      if (requests.length <= failures) {
        response
          .writeHead(503, { 'content-type': 'application/json' })
          .end('{"error":"DN_ERR_STORE_UNAVAILABLE","message":"restarting"}')
        return
      }
      const answer = await fetch(`${target}${request.url?.replace(/^\/dn/, '')}`, {
        method: 'POST',
        headers: { authorization, 'content-type': contentType },
        body,
      })
      response.writeHead(answer.status, { 'content-type': 'application/json' }).end(await answer.text())
    })()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  }
}
