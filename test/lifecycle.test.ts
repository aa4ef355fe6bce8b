import { mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { connect } from 'node:net'
import { getJson, notify, until } from './helpers/http.js'
import { runCli, spawnSidecar, type SidecarProcess } from './helpers/process.js'
import { openRawStreams } from './helpers/raw-streams.js'
import { TOKEN } from './helpers/sidecar.js'
import { Subscriber } from './helpers/stream.js'

let dataDir: string
const running: SidecarProcess[] = []
beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'deploy-notify-process-'))
})
afterEach(async () => {
  for (const sidecar of running.splice(0)) {
    if (sidecar.child.exitCode === null && sidecar.child.signalCode === null) sidecar.child.kill('SIGKILL')
    await sidecar.exited.catch(() => undefined)
  }
  await rm(dataDir, { recursive: true, force: true })
})

async function spawn(env: Record<string, string> = {}): Promise<SidecarProcess> {
  const sidecar = await spawnSidecar({ DATA_DIR: dataDir, NOTIFY_TOKEN: TOKEN, ...env })
  running.push(sidecar)
  return sidecar
}

describe('the sidecar process', () => {
  it('keeps the state through SIGKILL: after a restart (the lock the killed one left does not block it) a new page gets the current version', async () => {
    const first = await spawn()
    expect((await notify(first.url, { app: 'web', version: 'v7', message: 'kept' })).status).toBe(202)
    first.child.kill('SIGKILL')
    expect((await first.exited).signal).toBe('SIGKILL')

    const second = await spawn()
    const subscriber = await Subscriber.open(second.url, { app: 'web' })
    try {
      const event = await subscriber.next('version', 'v7')
      expect(event.data).toMatchObject({ app: 'web', version: 'v7', id: '1', message: 'kept' })
    } finally {
      subscriber.close()
    }
  })

  it('exits 0 within a few seconds on SIGTERM with 2000 streams open, ending every stream', async () => {
    const sidecar = await spawn()
    const streams = await openRawStreams(sidecar.port, 2000, '/events?app=web')
    const started = Date.now()
    sidecar.child.kill('SIGTERM')
    const exit = await sidecar.exited
    expect(exit.code).toBe(0)
    expect(Date.now() - started).toBeLessThan(5000)
    await Promise.all(streams.map((s) => s.ended))
    expect(exit.stdout).toMatch(/shutting down/)
  })

  it('answers a request that arrives during shutdown with a JSON 503, and closes', async () => {
    const sidecar = await spawn()
    const socket = connect(sidecar.port, '127.0.0.1')
    let text = ''
    socket.on('data', (chunk: Buffer) => (text += chunk.toString()))
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
    const body = JSON.stringify({ version: 'v1' })
    // A notify in flight (its body not sent yet) keeps the connection busy through the shutdown.
    // Its 100 Continue says the sidecar has taken it in, before the shutdown starts.
    socket.write(
      `POST /notify HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\nExpect: 100-continue\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`,
    )
    await until(() => text.includes('100 Continue'), 'the notify to be taken in', 10_000)
    sidecar.child.kill('SIGTERM')
    await until(() => sidecar.output().includes('shutting down'), 'the shutdown to start', 10_000)
    socket.write(`${body}GET /version HTTP/1.1\r\nHost: x\r\n\r\n`)
    await closed
    const answers = text.split(/(?=HTTP\/1\.1 )/)
    expect(answers.map((answer) => answer.slice(0, 12))).toEqual(['HTTP/1.1 100', 'HTTP/1.1 202', 'HTTP/1.1 503'])
    const refused = answers[2]!
    expect(refused).toMatch(/\r\nconnection: close\r\n/i)
    expect(JSON.parse(refused.slice(refused.indexOf('\r\n\r\n') + 4))).toEqual({
      error: 'DN_ERR_SHUTTING_DOWN',
      message: expect.stringMatching(/shutting down/),
    })
    expect((await sidecar.exited).code).toBe(0)
  })

  it('warns at start when NOTIFY_TOKEN is not set, naming the token file notify then needs', async () => {
    const sidecar = await spawn({ NOTIFY_TOKEN: '' })
    expect(sidecar.output()).toContain(
      `NOTIFY_TOKEN is not set: POST /notify generated a token into ${dataDir}/notify-token (owner-only)`,
    )
  })

  it('lets a flag override the environment', async () => {
    const exit = await runCli(['serve', '--keepalive-ms', '5'], { DATA_DIR: dataDir, KEEPALIVE_MS: '20000' })
    expect(exit.code).toBe(2)
    expect(exit.stderr).toMatch(/--keepalive-ms must be an integer from 1000 to 3600000, got "5"/)
  })

  const badConfig: [Record<string, string>, RegExp][] = [
    [{ PORT: 'eighty' }, /PORT must be an integer from 0 to 65535, got "eighty"/],
    [{ NOTIFY_TOKEN: 'short' }, /NOTIFY_TOKEN must be at least 16 characters/],
    [
      { CORS_ORIGINS: 'https://app.example/path' },
      /CORS_ORIGINS: "https:\/\/app.example\/path" is not an origin; did you mean "https:\/\/app.example"\?/,
    ],
    [{ MAX_CONNECTIONS: '0' }, /MAX_CONNECTIONS must be an integer from 1/],
  ]
  it.each(badConfig)('stops at start with exit 2 and a message naming the setting: %o', async (env, message) => {
    const exit = await runCli(['serve'], { PORT: '0', DATA_DIR: dataDir, ...env })
    expect(exit.code).toBe(2)
    expect(exit.stderr).toMatch(message)
    expect(exit.stderr).toMatch(/^deploy-notify: /)
  })

  it('stops at start with exit 1 on a corrupt state file, naming it and leaving it alone', async () => {
    const file = join(dataDir, 'state.json')
    await writeFile(file, '{"format":1,')
    const exit = await runCli(['serve'], { PORT: '0', DATA_DIR: dataDir })
    expect(exit.code).toBe(1)
    expect(exit.stderr).toContain(`deploy-notify: ${file} is not a deploy-notify state file (invalid JSON`)
    expect(await readFile(file, 'utf8')).toBe('{"format":1,')
  })

  it('stops at start with exit 1 when the port is taken', async () => {
    const first = await spawn()
    const other = join(dataDir, 'other')
    const exit = await runCli(['serve'], { PORT: String(first.port), HOST: '127.0.0.1', DATA_DIR: other })
    expect(exit.code).toBe(1)
    expect(exit.stderr).toMatch(/^deploy-notify: cannot listen: .*EADDRINUSE.*; choose another PORT or HOST\n$/)
  })

  it('stops at start with exit 1 when HOST does not resolve, without a stack', async () => {
    const exit = await runCli(['serve'], { PORT: '0', HOST: 'no-such-host.invalid', DATA_DIR: dataDir }, 30_000)
    expect(exit.code).toBe(1)
    expect(exit.stderr).toMatch(
      /^deploy-notify: cannot listen: .*no-such-host\.invalid.*; choose another PORT or HOST\n$/,
    )
  })

  it('refuses a second sidecar on the same DATA_DIR (exit 1), saying that replicas need REDIS_URL', async () => {
    const first = await spawn()
    const exit = await runCli(['serve'], { PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, NOTIFY_TOKEN: TOKEN })
    expect(exit.code).toBe(1)
    expect(exit.stderr).toMatch(
      new RegExp(
        `^deploy-notify: DATA_DIR ${dataDir} is in use by the sidecar with PID ${first.child.pid} on .*REDIS_URL`,
      ),
    )
    expect(exit.stderr.split('\n')).toHaveLength(2) // one line, no stack
    // The first one goes on serving, its state untouched.
    expect((await notify(first.url, { app: 'web', version: 'v1' })).status).toBe(202)
  })

  it('never takes DATA_DIR from a stopped holder, however old its lock (SIGSTOP): the second is refused, the first resumes', async () => {
    const first = await spawn()
    expect((await notify(first.url, { app: 'web', version: 'v1' })).status).toBe(202)
    const lock = join(dataDir, 'sidecar.lock')
    first.child.kill('SIGSTOP')
    try {
      // As after a long pause (a frozen VM or container): no heartbeat for a minute.
      const past = new Date(Date.now() - 60_000)
      await utimes(lock, past, past)
      const exit = await runCli(['serve'], { PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, NOTIFY_TOKEN: TOKEN })
      expect(exit.code).toBe(1)
      expect(exit.stderr).toMatch(
        new RegExp(
          `is in use by the sidecar with PID ${first.child.pid} on .*That process is running \\(perhaps stopped`,
        ),
      )
    } finally {
      first.child.kill('SIGCONT')
    }
    // The one writer goes on: its acknowledged deploys are all in the state file.
    expect((await notify(first.url, { app: 'web', version: 'v2' })).json).toMatchObject({ id: '2' })
    const state = JSON.parse(await readFile(join(dataDir, 'state.json'), 'utf8')) as { apps: Record<string, unknown> }
    expect(state.apps.web).toMatchObject({ version: 'v2', id: '2' })
    expect(JSON.parse(await readFile(lock, 'utf8'))).toMatchObject({ pid: first.child.pid })
  })

  it('stores nothing more once its lock names another sidecar, and leaves that lock in place when it stops', async () => {
    const first = await spawn()
    expect((await notify(first.url, { app: 'web', version: 'v1' })).status).toBe(202)
    // Taken over from elsewhere (a sidecar on another host sharing the folder).
    const lock = join(dataDir, 'sidecar.lock')
    const other = `${JSON.stringify({ pid: 4242, host: 'another-host', nonce: 'theirs' })}\n`
    await writeFile(lock, other)
    const refused = await notify(first.url, { app: 'web', version: 'v2' })
    expect(refused.status).toBe(503)
    expect(String(refused.json.message)).toMatch(/now names the sidecar with PID 4242 on another-host, not this one/)
    expect((await getJson(`${first.url}/healthz`)).status).toBe(503)
    const state = JSON.parse(await readFile(join(dataDir, 'state.json'), 'utf8')) as { apps: Record<string, unknown> }
    expect(state.apps.web).toMatchObject({ version: 'v1' })

    first.child.kill('SIGTERM')
    expect((await first.exited).code).toBe(0)
    expect(await readFile(lock, 'utf8')).toBe(other)
  })

  const wrongShapes: [string, string, RegExp][] = [
    ['an array', '[]', /not a JSON object/],
    ['apps as a list', '{"format":1,"apps":[]}', /no "apps" object/],
    [
      'a deploy that is a number',
      '{"format":1,"apps":{"web":5}}',
      /app "web" has no valid deploy: a deploy must be a JSON object/,
    ],
    [
      'an id with a newline (a forged SSE event)',
      '{"format":1,"apps":{"web":{"app":"web","version":"v1","id":"1\\nevent: deploy","time":"2025-01-01T00:00:00.000Z"}}}',
      /app "web" has no valid deploy: its id must be 1-16 digits/,
    ],
  ]
  it.each(wrongShapes)(
    'stops at start with exit 1 on a state file with %s, naming the file and field',
    async (_name, text, reason) => {
      const file = join(dataDir, 'state.json')
      await writeFile(file, text)
      const exit = await runCli(['serve'], { PORT: '0', DATA_DIR: dataDir, NOTIFY_TOKEN: TOKEN })
      expect(exit.code).toBe(1)
      expect(exit.stderr).toMatch(new RegExp(`^deploy-notify: ${file} is not a deploy-notify state file \\(`))
      expect(exit.stderr).toMatch(reason)
      expect(exit.stderr.split('\n')).toHaveLength(2)
      expect(await readFile(file, 'utf8')).toBe(text)
    },
  )

  it('explains itself with --help', async () => {
    const exit = await runCli(['serve', '--help'])
    expect(exit.code).toBe(0)
    expect(exit.stdout).toMatch(/--keepalive-ms N/)
    const unknown = await runCli(['serve', '--prot', '80'])
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toMatch(/Unknown option '--prot'/)
  })
})
