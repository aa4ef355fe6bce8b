import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { freePort } from './helpers/free-port.js'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { notify } from './helpers/http.js'
import { ago } from '../cli/status-command.js'
import { runCli, startCli } from './helpers/process.js'
import { openRawStreams, type RawStream } from './helpers/raw-streams.js'
import { startTestSidecar, type TestSidecar } from './helpers/sidecar.js'

// `deploy-notify status` and `wait-drained` are run as CI runs them: the built CLI in its own process.
let sidecar: TestSidecar
const streams: RawStream[] = []
beforeEach(async () => {
  sidecar = await startTestSidecar()
})
afterEach(async () => {
  for (const s of streams.splice(0)) s.socket.destroy()
  await sidecar.close()
})

async function open(count: number, app: string, version?: string): Promise<RawStream[]> {
  const query = version === undefined ? `app=${app}` : `app=${app}&version=${version}`
  const opened = await openRawStreams(sidecar.port, count, `/events?${query}`)
  streams.push(...opened)
  return opened
}

describe('deploy-notify status', () => {
  it('prints each app as a table: version, how long ago, open pages in total and by version', async () => {
    await notify(sidecar.url, { app: 'web', version: 'v1' })
    await notify(sidecar.url, { app: 'web', version: 'v2' })
    await notify(sidecar.url, { app: 'admin', version: 'a1' })
    await open(2, 'web', 'v2')
    await open(1, 'web', 'v1')
    await open(1, 'docs', 'd9')

    const exit = await runCli(['status', '--url', `${sidecar.url}/`])
    expect(exit.stderr).toBe('')
    expect(exit.code).toBe(0)
    // Deployed a moment ago: 0 or 1 seconds, depending on the machine.
    expect(exit.stdout.replace(/\b[01]s ago/g, 'Ns ago').split('\n')).toEqual([
      'APP    VERSION  DEPLOYED  PAGES  BY VERSION',
      'admin  a1       Ns ago    0',
      'docs   -        -         1      d9: 1',
      'web    v2       Ns ago    3      v2: 2, v1: 1',
      '',
    ])
  })

  it('shows one app with --app, also one it does not know, and the JSON of /status with --json', async () => {
    await notify(sidecar.url, { app: 'web', version: 'v1', message: 'hello' })
    await notify(sidecar.url, { app: 'admin', version: 'a1' })
    await open(1, 'web', 'v1')
    const one = await runCli(['status', '--url', sidecar.url, '--app', 'web'])
    expect(one.stdout.replace(/\b[01]s ago/, 'Ns ago')).toBe(
      'APP  VERSION  DEPLOYED  PAGES  BY VERSION\nweb  v1       Ns ago    1      v1: 1\n',
    )
    const unknown = await runCli(['status', '--url', sidecar.url, '--app', 'nope'])
    expect(unknown.code).toBe(0)
    expect(unknown.stdout).toBe('APP   VERSION  DEPLOYED  PAGES  BY VERSION\nnope  -        -         0\n')

    const json = await runCli(['status', '--url', sidecar.url, '--app', 'web', '--json'])
    expect(json.code).toBe(0)
    const printed = JSON.parse(json.stdout) as { apps: Record<string, unknown>; time: string }
    expect(Object.keys(printed.apps)).toEqual(['web'])
    expect(printed.apps.web).toMatchObject({
      current: { version: 'v1', message: 'hello' },
      streams: { total: 1, versions: { v1: 1 } },
    })
  })

  it('says how long ago in the largest unit that reads well', () => {
    const minute = 60_000
    expect([45_000, 12 * minute, 200 * minute, 4 * 24 * 60 * minute, -5000].map(ago)).toEqual([
      '45s ago',
      '12m ago',
      '3h 20m ago',
      '4d ago',
      '0s ago',
    ])
  })

  it('says so when there is no app yet', async () => {
    const exit = await runCli(['status', '--url', sidecar.url])
    expect(exit.code).toBe(0)
    expect(exit.stdout).toBe('No app yet: no deploy was notified and no page is open.\n')
  })

  it('exits 1 when something other than a status answers', async () => {
    const exit = await runCli(['status', '--url', `${sidecar.url}/nope`])
    expect(exit.code).toBe(1)
    expect(exit.stderr).toBe(
      `deploy-notify: ${sidecar.url}/nope/status answered 404 DN_ERR_NOT_FOUND: no route GET /nope/status\n`,
    )
  })

  it('exits 3 after one retry when nothing listens', async () => {
    const started = Date.now()
    const exit = await runCli(['status', '--url', `http://127.0.0.1:${await freePort()}`], {}, 5000)
    expect(exit.code).toBe(3)
    expect(Date.now() - started).toBeLessThan(4000)
    expect(exit.stderr).toMatch(
      /^deploy-notify: could not reach http:\/\/127.0.0.1:\d+\/status \(2 attempts\); last error: connect ECONNREFUSED/,
    )
  })

  it.each([
    [[], /status needs --url/],
    [['--url', 'sidecar.example'], /--url "sidecar.example" is not a URL/],
    [['--url', 'http://127.0.0.1:1', '--ap', 'web'], /Unknown option '--ap'/],
  ])('exits 2 on a usage error: %j', async (args, message) => {
    const exit = await runCli(['status', ...args])
    expect(exit.code).toBe(2)
    expect(exit.stderr).toMatch(message)
  })
})

describe('deploy-notify wait-drained', () => {
  const wait = (args: string[], timeoutMs = 15_000) =>
    startCli(['wait-drained', '--url', sidecar.url, '--app', 'web', ...args], {}, timeoutMs)

  it('exits 0 soon after the last page running the version closes', async () => {
    await notify(sidecar.url, { app: 'web', version: 'v2' })
    const old = await open(2, 'web', 'v1')
    await open(1, 'web', 'v2')
    const cli = wait(['--version', 'v1', '--timeout', '30s', '--interval', '100ms'])
    await cli.printed(/waiting: 2 open pages still run version "v1"\n/)
    old[0]!.socket.destroy()
    await cli.printed(/waiting: 1 open page still runs version "v1"\n/)
    expect(cli.child.exitCode).toBe(null)

    old[1]!.socket.destroy()
    const closed = Date.now()
    const exit = await cli.exited
    expect(Date.now() - closed).toBeLessThan(2000)
    expect(exit.code).toBe(0)
    expect(exit.stdout).toBe('deploy-notify: drained: no open page of app "web" runs version "v1"\n')
  })

  it('with --all-old, waits for every version but the current one, pages without a version included', async () => {
    await notify(sidecar.url, { app: 'web', version: 'v1' })
    await notify(sidecar.url, { app: 'web', version: 'v2' })
    const old = [...(await open(1, 'web', 'v1')), ...(await open(1, 'web'))]
    await open(2, 'web', 'v2')
    const cli = wait(['--all-old', '--timeout', '30s', '--interval', '100ms'])
    await cli.printed(
      /waiting: 2 open pages still run versions other than the current "v2": "unknown" \(1\), "v1" \(1\)\n/,
    )
    for (const stream of old) stream.socket.destroy()
    const exit = await cli.exited
    expect(exit.code).toBe(0)
    expect(exit.stdout).toBe(
      'deploy-notify: drained: no open page of app "web" runs a version other than the current "v2"\n',
    )
  })

  it('exits 0 at once when nothing runs the version', async () => {
    await notify(sidecar.url, { app: 'web', version: 'v2' })
    await open(1, 'web', 'v2')
    const exit = await wait(['--version', 'v1', '--timeout', '5s']).exited
    expect(exit.code).toBe(0)
    expect(exit.stderr).toBe('')
  })

  it('exits 4 when --timeout runs out, saying how many pages still run it', async () => {
    await notify(sidecar.url, { app: 'web', version: 'v2' })
    await open(1, 'web', 'v1')
    const started = Date.now()
    const exit = await wait(['--version', 'v1', '--timeout', '1s', '--interval', '200ms']).exited
    const took = Date.now() - started
    expect(exit.code).toBe(4)
    expect(took).toBeGreaterThanOrEqual(1000)
    expect(took).toBeLessThan(4000)
    expect(exit.stderr).toMatch(/\ndeploy-notify: timed out after 1s: 1 open page still runs version "v1"\n$/)
  })

  it('exits 1 for an app the sidecar does not know, which is more likely a typo than drained', async () => {
    await notify(sidecar.url, { app: 'web', version: 'v1' })
    const exit = await startCli([
      'wait-drained',
      '--url',
      sidecar.url,
      '--app',
      'wbe',
      '--version',
      'v0',
      '--timeout',
      '5s',
    ]).exited
    expect(exit.code).toBe(1)
    expect(exit.stderr).toBe('deploy-notify: the sidecar knows no app "wbe" (no deploy, no open page); check --app\n')
  })

  it('keeps asking through 5xx answers while a proxy waits for the sidecar', async () => {
    await notify(sidecar.url, { app: 'web', version: 'v2' })
    const proxy = await flakyProxy(sidecar.url, 2)
    try {
      const exit = await startCli([
        'wait-drained',
        '--url',
        proxy.url,
        '--app',
        'web',
        '--version',
        'v1',
        '--timeout',
        '10s',
        '--interval',
        '100ms',
      ]).exited
      expect(exit.code).toBe(0)
      expect(exit.stderr).toBe('deploy-notify: cannot check (502 Bad Gateway); retrying until the timeout\n')
      expect(proxy.requests()).toBe(3)
    } finally {
      await proxy.close()
    }
  })

  it('exits 3 when the sidecar could not be reached until --timeout', async () => {
    const started = Date.now()
    const exit = await runCli(
      [
        'wait-drained',
        '--url',
        `http://127.0.0.1:${await freePort()}`,
        '--app',
        'web',
        '--version',
        'v1',
        '--timeout',
        '1s',
        '--interval',
        '100ms',
      ],
      {},
      5000,
    )
    expect(exit.code).toBe(3)
    expect(Date.now() - started).toBeLessThan(4000)
    expect(exit.stderr).toMatch(
      /^deploy-notify: cannot check \(connect ECONNREFUSED [^)]*\); retrying until the timeout\n/,
    )
    expect(exit.stderr).toMatch(
      /\ndeploy-notify: could not reach http:\/\/127.0.0.1:\d+\/status within 1s; last error: connect ECONNREFUSED/,
    )
  })

  it.each([
    [['--app', 'web', '--version', 'v1'], /needs --url, --app and --timeout/],
    [['--url', 'http://127.0.0.1:1', '--app', 'web', '--timeout', '1m'], /needs either --version V or --all-old/],
    [
      ['--url', 'http://127.0.0.1:1', '--app', 'web', '--version', 'v1', '--all-old', '--timeout', '1m'],
      /needs either --version V or --all-old/,
    ],
    [
      ['--url', 'http://127.0.0.1:1', '--app', 'web', '--version', 'v1', '--timeout', '1m', '--interval', 'often'],
      /--interval "often" is not a duration/,
    ],
  ])('exits 2 on a usage error: %j', async (args, message) => {
    const exit = await runCli(['wait-drained', ...args])
    expect(exit.code).toBe(2)
    expect(exit.stderr).toMatch(message)
  })

  it('documents its exit codes, 4 for a timeout', async () => {
    const exit = await runCli(['wait-drained', '--help'])
    expect(exit.code).toBe(0)
    expect(exit.stdout).toMatch(/Exit codes:\n {2}0 .*\n {2}1 .*\n {2}2 .*\n {2}3 .*\n {2}4 {2}timed out/)
  })
})

/** A proxy in front of the sidecar that answers 502 to the first `failures` requests, as while it restarts. */
async function flakyProxy(
  target: string,
  failures: number,
): Promise<{ url: string; requests(): number; close(): Promise<void> }> {
  let requests = 0
  const server: Server = createServer((request, response) => {
    if (++requests <= failures) {
      response.writeHead(502, { 'content-type': 'text/html' }).end('<h1>502 Bad Gateway</h1>')
      return
    }
    void fetch(`${target}${request.url}`).then(async (answer) => {
      response.writeHead(answer.status, { 'content-type': 'application/json' }).end(await answer.text())
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests: () => requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  }
}
