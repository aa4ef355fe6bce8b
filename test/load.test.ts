import { existsSync } from 'node:fs'
import { mkdtemp } from 'node:fs/promises'
import { request } from 'undici'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { metric, notify, until } from './helpers/http.js'
import { openRawStreams, type RawStream } from './helpers/raw-streams.js'
import { startTestSidecar, type TestSidecar } from './helpers/sidecar.js'

let sidecar: TestSidecar
beforeEach(async () => {
  // Thousands of deploys: keep the state in memory-backed storage where fsync costs nothing.
  const shm = existsSync('/dev/shm') ? await mkdtemp('/dev/shm/deploy-notify-load-') : undefined
  sidecar = await startTestSidecar({}, shm)
})
afterEach(async () => {
  await sidecar.close({ remove: true })
})

const sockets = () => process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length

describe('many streams', () => {
  it('delivers one deploy to 1000 streams, and forgets all of them once they close', async () => {
    const before = sockets()
    const streams = await openRawStreams(sidecar.port, 1000, '/events?app=web&version=v0')
    expect(await metric(sidecar.url, 'deploy_notify_connections{app="web"}')).toBe(1000)

    expect((await notify(sidecar.url, { app: 'web', version: 'v1' })).json).toMatchObject({ delivered: 1000 })
    await until(() => streams.every((s) => s.text().includes('"version":"v1"')), 'every stream to receive v1')

    for (const stream of streams) stream.socket.destroy()
    await until(
      async () => (await metric(sidecar.url, 'deploy_notify_connections{app="web"}')) === 0,
      'the gauge to reach 0',
    )
    // No app left in the hub at all: the gauge has no series.
    const text = await (await request(`${sidecar.url}/metrics`)).body.text()
    expect(text).not.toMatch(/^deploy_notify_connections\{/m)
    // Both ends of every stream are gone (client and server sockets live in this process).
    await until(() => sockets() <= before + 2, 'the sockets to close')
  })

  it('drops a stream that stops reading instead of buffering for it without limit', async () => {
    const [reader] = await openRawStreams(sidecar.port, 1, '/events?app=web')
    const [stuck] = (await openRawStreams(sidecar.port, 1, '/events?app=web')) as [RawStream]
    stuck.socket.pause() // the kernel buffers fill, then the sidecar's
    const message = 'x'.repeat(1000)
    let sent = 0
    while ((await metric(sidecar.url, 'deploy_notify_connections{app="web"}')) === 2) {
      if (++sent > 5000) throw new Error('a stream that never reads was kept after 5000 deploys (~5 MB)')
      await notify(sidecar.url, { app: 'web', version: `v${sent}`, message })
    }
    expect(await metric(sidecar.url, 'deploy_notify_dropped_streams_total')).toBe(1)
    // The reading stream got every deploy.
    await until(() => reader!.text().includes(`"version":"v${sent}"`), 'the reader to get the last deploy')
    expect(reader!.text().split('event: deploy').length - 1).toBe(sent)
    reader!.socket.destroy()
    stuck.socket.destroy()
  })
})
