import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { notify } from './helpers/http.js'
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
  it('keeps the state through SIGKILL: after a restart a new page gets the current version', async () => {
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

  it('warns at start when NOTIFY_TOKEN is not set', async () => {
    const sidecar = await spawn({ NOTIFY_TOKEN: '' })
    expect(sidecar.output()).toMatch(/NOTIFY_TOKEN is not set: POST \/notify is accepted from loopback callers only/)
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
    const exit = await runCli(['serve'], { PORT: String(first.port), HOST: '127.0.0.1', DATA_DIR: dataDir })
    expect(exit.code).toBe(1)
    expect(exit.stderr).toMatch(/^deploy-notify: cannot listen: .*EADDRINUSE.*; choose another PORT or HOST/m)
  })

  it('explains itself with --help', async () => {
    const exit = await runCli(['serve', '--help'])
    expect(exit.code).toBe(0)
    expect(exit.stdout).toMatch(/--keepalive-ms N/)
    const unknown = await runCli(['serve', '--prot', '80'])
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toMatch(/Unknown option '--prot'/)
  })
})
