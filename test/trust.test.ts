import { execFile } from 'node:child_process'
import { chmod, mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startHaproxy, skipWithoutHaproxy } from './helpers/haproxy.js'
import { getJson, notify } from './helpers/http.js'
import { CLI, runCli, spawnSidecar, type SidecarProcess } from './helpers/process.js'
import { Subscriber } from './helpers/stream.js'

// Without NOTIFY_TOKEN the sidecar trusts no address: it generates a token into DATA_DIR that the
// CLI on the same host finds, and every notify must carry it, from loopback, a browser or a proxy.
const noHaproxy = skipWithoutHaproxy('test/trust.test.ts')
const run = promisify(execFile)

describe('a sidecar started without NOTIFY_TOKEN', () => {
  let scratch: string
  let dataDir: string
  let sidecar: SidecarProcess
  let token: string

  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'deploy-notify-trust-'))
    dataDir = join(scratch, 'data')
    sidecar = await spawnSidecar({ DATA_DIR: dataDir, NOTIFY_TOKEN: '' })
    token = (await readFile(join(dataDir, 'notify-token'), 'utf8')).trim()
  })
  afterAll(async () => {
    sidecar?.child.kill('SIGTERM')
    await sidecar?.exited.catch(() => undefined)
    await rm(scratch, { recursive: true, force: true })
  })

  it('generates a token into DATA_DIR, readable by its owner only, and says where', async () => {
    expect(token).toMatch(/^[\w-]{43}$/)
    expect((await stat(join(dataDir, 'notify-token'))).mode & 0o777).toBe(0o600)
    expect(sidecar.output()).toContain(
      `NOTIFY_TOKEN is not set: POST /notify generated a token into ${dataDir}/notify-token`,
    )
  })

  it('refuses a notify without the token from loopback: nothing is trusted by address', async () => {
    const answer = await notify(sidecar.url, { version: 'forged' }, { token: null })
    expect(answer.status).toBe(401)
    expect(answer.json).toMatchObject({ error: 'DN_ERR_UNAUTHORIZED', message: expect.stringMatching(/notify-token/) })
    expect((await getJson(`${sidecar.url}/version`)).status).toBe(404)
  })

  it("refuses a cross-origin page's fetch() POST and changes nothing on any stream", async () => {
    const page = await Subscriber.open(sidecar.url, { app: 'browser' })
    try {
      const forged = await fetch(`${sidecar.url}/notify`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          origin: 'http://127.0.0.1:5173',
          'sec-fetch-site': 'same-site',
          'sec-fetch-mode': 'cors',
          'sec-fetch-dest': 'empty',
        },
        body: JSON.stringify({ app: 'browser', version: 'forged', mandatory: true }),
      })
      expect(forged.status).toBe(401)
      expect(await forged.json()).toMatchObject({ error: 'DN_ERR_UNAUTHORIZED' })
      // The next deploy the page sees is the real one: the forged one never reached it.
      expect((await notify(sidecar.url, { app: 'browser', version: 'real' }, { token })).status).toBe(202)
      await page.next('deploy', 'real')
      expect(page.received.map((event) => event.data.version)).toEqual(['real'])
    } finally {
      page.close()
    }
  })

  it.skipIf(noHaproxy)('refuses a notify through a proxy on this host that adds no forwarding header', async () => {
    const proxy = await startHaproxy(`127.0.0.1:${sidecar.port}`)
    try {
      const proxied = await notify(proxy.url, { app: 'proxied', version: 'forged' }, { token: null })
      expect(proxied.status).toBe(401)
      expect(proxied.json).toMatchObject({ error: 'DN_ERR_UNAUTHORIZED' })
      expect((await getJson(`${sidecar.url}/version?app=proxied`)).status).toBe(404)
      // The proxy itself works: with the token the same request goes through.
      expect((await notify(proxy.url, { app: 'proxied', version: 'v1' }, { token })).status).toBe(202)
    } finally {
      await proxy.stop()
    }
  })

  it('answers a large body without the token once, with 401, and closes the connection', async () => {
    const socket = connect(sidecar.port, '127.0.0.1')
    let text = ''
    socket.on('data', (chunk: Buffer) => (text += chunk.toString()))
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
    socket.on('error', () => {}) // a reset while the body is still being sent is a close too
    socket.write(
      'POST /notify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10000000\r\n\r\n',
    )
    socket.write(Buffer.alloc(256 * 1024, 'a'))
    const timer = setTimeout(() => socket.destroy(new Error('not closed within 5 s')), 5000)
    await closed
    clearTimeout(timer)
    expect(text.match(/HTTP\/1\.1 \d{3}/g)).toEqual(['HTTP/1.1 401'])
    expect(text).toMatch(/\r\nconnection: close\r\n/i)
  })

  it('accepts `deploy-notify notify` on the same host with nothing but the URL and version', async () => {
    // Found through DATA_DIR, through --data-dir, and as ./data from where the sidecar runs.
    const viaEnv = await runCli(['notify', '--url', sidecar.url, '--app', 'cli', '--version', 'v1'], {
      DATA_DIR: dataDir,
      NOTIFY_TOKEN: '',
    })
    expect(viaEnv.stdout).toMatch(/deployed app "cli" version "v1"/)
    expect(viaEnv.code).toBe(0)
    const viaFlag = await runCli(
      ['notify', '--url', sidecar.url, '--app', 'cli', '--version', 'v2', '--data-dir', dataDir],
      { NOTIFY_TOKEN: '' },
    )
    expect(viaFlag.code).toBe(0)
    const env = { ...process.env, NOTIFY_TOKEN: '', DATA_DIR: '' }
    const args = [CLI, 'notify', '--url', sidecar.url, '--app', 'cli', '--version', 'v3']
    const fromCwd = await run(process.execPath, args, { cwd: scratch, env, timeout: 10_000 })
    expect(fromCwd.stdout).toMatch(/deployed app "cli" version "v3"/)
  })

  it('keeps the token across a restart', async () => {
    const second = await spawnSidecar({ DATA_DIR: join(scratch, 'second'), NOTIFY_TOKEN: '' })
    try {
      const first = await readFile(join(scratch, 'second', 'notify-token'), 'utf8')
      second.child.kill('SIGTERM')
      expect((await second.exited).code).toBe(0)
      const again = await spawnSidecar({ DATA_DIR: join(scratch, 'second'), NOTIFY_TOKEN: '' })
      again.child.kill('SIGTERM')
      await again.exited
      expect(again.output()).toMatch(/POST \/notify uses the token in /)
      expect(await readFile(join(scratch, 'second', 'notify-token'), 'utf8')).toBe(first)
    } finally {
      second.child.kill('SIGKILL')
    }
  })
})

describe('the trust settings at start', () => {
  it('refuses a token file that others can read, naming it (exit 1)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'deploy-notify-trust-'))
    try {
      const sidecar = await spawnSidecar({ DATA_DIR: dir, NOTIFY_TOKEN: '' })
      sidecar.child.kill('SIGTERM')
      await sidecar.exited
      await chmod(join(dir, 'notify-token'), 0o644)
      const exit = await runCli(['serve'], { PORT: '0', DATA_DIR: dir, NOTIFY_TOKEN: '' })
      expect(exit.code).toBe(1)
      expect(exit.stderr).toBe(
        `deploy-notify: ${dir}/notify-token can be read by others (mode 644): run "chmod 600 ${dir}/notify-token", ` +
          'or delete it to get a new token\n',
      )
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('refuses REDIS_URL without NOTIFY_TOKEN (exit 2): replicas must share one token', async () => {
    const exit = await runCli(['serve'], { PORT: '0', REDIS_URL: 'redis://127.0.0.1:9', NOTIFY_TOKEN: '' })
    expect(exit.code).toBe(2)
    expect(exit.stderr).toBe(
      'deploy-notify: REDIS_URL needs NOTIFY_TOKEN: replicas behind one URL must share one token\n',
    )
  })
})
