import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { Status } from '../server/status.js'
import { getJson, notify } from './helpers/http.js'
import { spawnSidecar, type SidecarProcess } from './helpers/process.js'
import { openRawStreams } from './helpers/raw-streams.js'
import { TOKEN } from './helpers/sidecar.js'

let dataDir: string
const running: SidecarProcess[] = []
beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'deploy-notify-history-'))
})
afterEach(async () => {
  for (const sidecar of running.splice(0)) {
    if (sidecar.child.exitCode === null && sidecar.child.signalCode === null) sidecar.child.kill('SIGKILL')
    await sidecar.exited.catch(() => undefined)
  }
  await rm(dataDir, { recursive: true, force: true })
})

async function spawn(): Promise<SidecarProcess> {
  const sidecar = await spawnSidecar({ DATA_DIR: dataDir, NOTIFY_TOKEN: TOKEN })
  running.push(sidecar)
  return sidecar
}

const status = async (url: string) => (await getJson(`${url}/status`)).json as unknown as Status

describe('the deploy history in /status', () => {
  it('is newest first, bounded at 20, and survives a SIGKILL of the process', async () => {
    const first = await spawn()
    for (let i = 1; i <= 22; i++) {
      expect((await notify(first.url, { app: 'web', version: `v${i}`, message: `release ${i}` })).status).toBe(202)
    }
    await openRawStreams(first.port, 2, '/events?app=web&version=v22')
    const before = (await status(first.url)).apps.web!
    expect(before.history.map((d) => d.version)).toEqual(Array.from({ length: 20 }, (_, i) => `v${22 - i}`))
    expect(before.streams.total).toBe(2)
    first.child.kill('SIGKILL')
    expect((await first.exited).signal).toBe('SIGKILL')

    const second = await spawn()
    const after = (await status(second.url)).apps.web!
    expect(after.history).toEqual(before.history)
    expect(after.current).toEqual(before.history[0])
    expect(after.history[19]).toMatchObject({ version: 'v3', id: '3', message: 'release 3' })
    // Counts belong to the process that held the streams: the pages have not reconnected yet.
    expect(after.streams).toEqual({ total: 0, versions: {} })
  })
})
