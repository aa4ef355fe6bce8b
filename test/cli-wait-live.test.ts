import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { getJson, until } from './helpers/http.js'
import { runCli, startCli } from './helpers/process.js'
import { startTestSidecar, TOKEN, type TestSidecar } from './helpers/sidecar.js'

// `notify --wait-live`: the built CLI against a real sidecar and a small static server standing
// in for the public site (a CDN still serving the old version.json, then the new one).
let sidecar: TestSidecar
let site: { url: string; server: Server; serve(version: string | undefined): void; requests(): number }

beforeEach(async () => {
  sidecar = await startTestSidecar()
  let served: string | undefined = 'v1'
  let requests = 0
  const server = createServer((request, response) => {
    if (request.url !== '/shop/version.json') return void response.writeHead(404).end('not found')
    requests++
    if (served === undefined)
      return void response.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html>')
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ version: served, app: 'web' }))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  site = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    server,
    serve: (version) => (served = version),
    requests: () => requests,
  }
})
afterEach(async () => {
  site.server.closeAllConnections()
  await new Promise((resolve) => site.server.close(resolve))
  await sidecar.close()
})

const notifyArgs = (...more: string[]) => ['notify', '--url', sidecar.url, '--app', 'web', '--version', 'v2', ...more]
const current = async () => (await getJson(`${sidecar.url}/version?app=web`)).json

// Each test runs the CLI several times, each a process of its own: slow on a busy machine.
describe('deploy-notify notify --wait-live', { timeout: 90_000 }, () => {
  it('notifies only once the site serves the new version.json', async () => {
    const cli = startCli(
      notifyArgs('--wait-live', `${site.url}/shop/`, '--timeout', '60s'),
      { NOTIFY_TOKEN: TOKEN },
      80_000,
    )
    await cli.printed(/waiting for .*\/shop\/version\.json to serve "v2": it serves "v1"/, 30_000)
    // The site switches a few seconds later, after the CLI asked again; pages hear nothing meanwhile.
    const asked = site.requests()
    await until(() => site.requests() >= asked + 2, 'the CLI to ask twice more', 30_000)
    expect((await getJson(`${sidecar.url}/version?app=web`)).status).toBe(404)
    const switchedAt = Date.now()
    site.serve('v2')

    const exit = await cli.exited
    expect(exit.code).toBe(0)
    expect(exit.stdout).toMatch(/serves "v2"; notifying\ndeploy-notify: deployed app "web" version "v2"/)
    expect(Date.parse(String((await current()).time))).toBeGreaterThanOrEqual(switchedAt - 5)
  })

  it('exits 4 without notifying when the site never serves it, saying what it served', async () => {
    site.serve(undefined) // an SPA fallback answering index.html for the missing file
    const exit = await runCli(notifyArgs('--wait-live', `${site.url}/shop`, '--timeout', '3s'), { NOTIFY_TOKEN: TOKEN })
    expect(exit.code).toBe(4)
    expect(exit.stderr).toMatch(
      /did not serve "v2" within 3s \(it answered, but not with a version\.json\); nothing was notified\n$/,
    )
    expect((await getJson(`${sidecar.url}/version?app=web`)).status).toBe(404)
  })

  it('takes the version.json URL itself, and refuses a URL that is not http(s) before waiting', async () => {
    site.serve('v2')
    const live = await runCli(notifyArgs('--wait-live', `${site.url}/shop/version.json`), { NOTIFY_TOKEN: TOKEN })
    expect(live.code).toBe(0)
    expect(await current()).toMatchObject({ version: 'v2' })

    const bad = await runCli(notifyArgs('--wait-live', 'ftp://example.com/'), { NOTIFY_TOKEN: TOKEN })
    expect(bad.code).toBe(2)
    expect(bad.stderr).toMatch(/--wait-live "ftp:\/\/example.com\/" must be http or https/)
  })

  it('reads at most 64 KiB of a version.json that never ends, and says so', async () => {
    // 300 MB, sent as fast as the CLI reads, chunked (no length to refuse it by).
    const huge = await serve((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' })
      let sent = 0
      const chunk = Buffer.alloc(1024 * 1024, ' ')
      const more = (): void => {
        while (sent < 300 && response.write(chunk)) sent++
        if (sent < 300) response.once('drain', more)
        else response.end()
      }
      response.write('{"version":"v2",')
      more()
      response.on('close', () => huge.finished.push(response.writableFinished))
    })
    try {
      const exit = await runCli(notifyArgs('--wait-live', `${huge.url}/version.json`, '--timeout', '3s'), {
        NOTIFY_TOKEN: TOKEN,
      })
      expect(exit.code).toBe(4)
      expect(exit.stderr).toMatch(/it answered with more than 64 KiB, not a version\.json\); nothing was notified/)
      // Every attempt hung up long before the end of the body.
      expect(huge.finished.length).toBeGreaterThan(0)
      expect(huge.finished.every((finished) => !finished)).toBe(true)
      expect((await getJson(`${sidecar.url}/version?app=web`)).status).toBe(404)
    } finally {
      await huge.close()
    }
  })

  it('follows a redirect within the origin, never one to another origin, and says why it waits', async () => {
    const elsewhere = await serve((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ version: 'v2' }))
    })
    const redirecting = await serve((request, response) => {
      const to = request.url === '/same/version.json' ? '/new/version.json' : `${elsewhere.url}/version.json`
      if (request.url === '/new/version.json') {
        return void response.writeHead(200, { 'content-type': 'application/json' }).end('{"version":"v2"}')
      }
      response.writeHead(302, { location: to }).end()
    })
    try {
      const away = await runCli(notifyArgs('--wait-live', `${redirecting.url}/other/version.json`, '--timeout', '3s'), {
        NOTIFY_TOKEN: TOKEN,
      })
      expect(away.code).toBe(4)
      expect(away.stderr).toContain(
        `it redirects to ${elsewhere.url}/version.json, on another origin, which is not followed: ` +
          'give --wait-live that URL if the app is served there',
      )
      expect(elsewhere.requests()).toBe(0)
      expect((await getJson(`${sidecar.url}/version?app=web`)).status).toBe(404)

      const same = await runCli(notifyArgs('--wait-live', `${redirecting.url}/same/version.json`), {
        NOTIFY_TOKEN: TOKEN,
      })
      expect(same.code).toBe(0)
      expect(await current()).toMatchObject({ version: 'v2' })
    } finally {
      await elsewhere.close()
      await redirecting.close()
    }
  })
})

/** A small site of its own (another origin: another port), for the test that needs one. */
async function serve(handler: (request: IncomingMessage, response: ServerResponse) => void) {
  let requests = 0
  const server = createServer((request, response) => {
    requests++
    handler(request, response)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests: () => requests,
    finished: [] as boolean[],
    close: async () => {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    },
  }
}
