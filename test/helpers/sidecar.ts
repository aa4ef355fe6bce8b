import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll } from 'vitest'
import { buildApp } from '../../server/app.js'
import { loadConfig, type Config } from '../../server/config.js'
import { openFileStore } from '../../server/store/file.js'
import type { Store } from '../../server/store/store.js'

export const TOKEN = 'test-token-0123456789abcdef'

export interface TestSidecar {
  url: string
  port: number
  app: FastifyInstance
  store: Store
  config: Config
  dataDir: string
  /** Closes the app and the store; keeps the data dir unless `remove` is set. */
  close(options?: { remove?: boolean }): Promise<void>
}

/**
 * Starts the real app on a free loopback port with a fresh data dir (or the given one).
 * Settings are environment variables, as users give them.
 */
export async function startTestSidecar(env: Record<string, string> = {}, dataDir?: string): Promise<TestSidecar> {
  const dir = dataDir ?? (await mkdtemp(join(tmpdir(), 'deploy-notify-test-')))
  const config = loadConfig({ NOTIFY_TOKEN: TOKEN, DATA_DIR: dir, PORT: '0', HOST: '127.0.0.1', ...env })
  const store = await openFileStore(config.dataDir)
  const app = await buildApp({ config, store })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const address = app.server.address()
  if (typeof address !== 'object' || address === null) throw new Error('no address')
  return {
    url: `http://127.0.0.1:${address.port}`,
    port: address.port,
    app,
    store,
    config,
    dataDir: dir,
    async close({ remove = dataDir === undefined } = {}) {
      await app.close()
      await store.close()
      if (remove) await rm(dir, { recursive: true, force: true })
    },
  }
}

/** One sidecar for the enclosing `describe`, started before its tests and closed after them. */
export function useSidecar(env: Record<string, string> = {}): () => TestSidecar {
  let sidecar: TestSidecar | undefined
  beforeAll(async () => {
    sidecar = await startTestSidecar(env)
  })
  afterAll(async () => {
    await sidecar?.close()
  })
  return () => {
    if (!sidecar) throw new Error('the sidecar is used outside the tests of its describe block')
    return sidecar
  }
}
