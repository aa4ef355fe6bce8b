import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { openFileStore } from '../server/store/file.js'

let dir: string
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'deploy-notify-store-'))
})
afterEach(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('the file store', () => {
  it('keeps the current deploy per app across a reopen', async () => {
    const store = await openFileStore(dir)
    await store.publish({ app: 'web', version: 'v1', message: 'first' })
    await store.publish({ app: 'admin', version: 'a1', sequence: 4 })
    await store.close()

    const reopened = await openFileStore(dir)
    expect(reopened.current('web')).toMatchObject({ version: 'v1', id: '1', message: 'first' })
    expect(reopened.current('admin')).toMatchObject({ version: 'a1', id: '1', sequence: 4 })
    expect((await reopened.publish({ app: 'web', version: 'v2' })).kind).toBe('changed')
    expect(reopened.current('web')?.id).toBe('2')
  })

  it('decides concurrent publishes one at a time: each id once, the file equal to memory', async () => {
    const store = await openFileStore(dir)
    const outcomes = await Promise.all(
      Array.from({ length: 20 }, (_, i) => store.publish({ app: 'web', version: `v${i % 10}` })),
    )
    const changed = outcomes.filter((o) => o.kind === 'changed').map((o) => (o.kind === 'changed' ? o.deploy.id : ''))
    expect(new Set(changed).size).toBe(changed.length)
    const file = JSON.parse(await readFile(join(dir, 'state.json'), 'utf8')) as { apps: Record<string, unknown> }
    expect(file.apps.web).toEqual(store.current('web'))
  })

  it('creates a missing DATA_DIR', async () => {
    const store = await openFileStore(join(dir, 'a', 'b'))
    await store.publish({ app: 'web', version: 'v1' })
    expect(JSON.parse(await readFile(join(dir, 'a', 'b', 'state.json'), 'utf8'))).toMatchObject({ format: 1 })
  })

  const web = '{"app":"web","version":"v1","id":"1","time":"2025-01-01T00:00:00.000Z"}'
  const corrupt: [string, string, RegExp][] = [
    ['truncated JSON', '{"format":1,"apps":{"web":{"app":"web","vers', /invalid JSON/],
    ['another format', '{"format":2,"apps":{}}', /unknown format 2/],
    [
      'a deploy without a version',
      '{"format":1,"apps":{"web":{"app":"web","id":"1","time":"x"}}}',
      /app "web" has no valid deploy/,
    ],
    ['a history that is a list', `{"format":1,"apps":{"web":${web}},"history":[${web}]}`, /"history" is not an object/],
    [
      'a history of another app',
      `{"format":1,"apps":{"web":${web}},"history":{"web":[{"app":"admin","version":"v0","id":"1","time":"x"}]}}`,
      /app "web" has an invalid history/,
    ],
    [
      'a history without a current deploy',
      `{"format":1,"apps":{"web":${web}},"history":{"admin":[]}}`,
      /app "admin" has a history but no current deploy/,
    ],
  ]
  it.each(corrupt)('refuses to start from %s, naming the file, and leaves it as it is', async (_name, text, reason) => {
    await writeFile(join(dir, 'state.json'), text)
    const error = await openFileStore(dir).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(error).toMatchObject({ code: 'DN_ERR_STATE' })
    expect((error as Error).message).toContain(join(dir, 'state.json'))
    expect((error as Error).message).toMatch(reason)
    expect(await readFile(join(dir, 'state.json'), 'utf8')).toBe(text)
  })

  it('ignores a temporary file left by a crash in the middle of a write', async () => {
    const store = await openFileStore(dir)
    await store.publish({ app: 'web', version: 'v1' })
    await writeFile(join(dir, 'state.json.tmp'), '{"format":1,"apps":{"web":')
    expect((await openFileStore(dir)).current('web')?.version).toBe('v1')
  })

  it('keeps the last 20 deploys per app, newest first, across a reopen', async () => {
    const store = await openFileStore(dir)
    for (let i = 1; i <= 25; i++) await store.publish({ app: 'web', version: `v${i}`, message: `deploy ${i}` })
    await store.publish({ app: 'web', version: 'v25' }) // unchanged: no new entry
    await store.publish({ app: 'admin', version: 'a1' })
    const expected = Array.from({ length: 20 }, (_, i) => `v${25 - i}`)
    expect(store.history('web').map((d) => d.version)).toEqual(expected)
    expect(store.history('web')[0]).toEqual(store.current('web'))
    expect(store.history('admin').map((d) => d.version)).toEqual(['a1'])
    expect(store.history('nope')).toEqual([])
    await store.close()

    const reopened = await openFileStore(dir)
    expect(reopened.history('web').map((d) => d.version)).toEqual(expected)
    expect(reopened.history('web')[19]).toMatchObject({ version: 'v6', id: '6', message: 'deploy 6' })
    await reopened.publish({ app: 'web', version: 'v26' })
    expect(reopened.history('web').map((d) => d.version)).toEqual(['v26', ...expected.slice(0, 19)])
  })

  it('does not record a refused (stale) deploy in the history', async () => {
    const store = await openFileStore(dir)
    await store.publish({ app: 'web', version: 'v5', sequence: 5 })
    expect((await store.publish({ app: 'web', version: 'v4', sequence: 4 })).kind).toBe('stale')
    expect(store.history('web').map((d) => d.version)).toEqual(['v5'])
  })

  it('loads a state file written before histories were kept: each history is the current deploy', async () => {
    const old = '{"format":1,"apps":{"web":{"app":"web","version":"v1","id":"1","time":"2025-01-01T00:00:00.000Z"}}}'
    await writeFile(join(dir, 'state.json'), old)
    const store = await openFileStore(dir)
    expect(store.history('web')).toEqual([store.current('web')])
    await store.publish({ app: 'web', version: 'v2' })
    expect(store.history('web').map((d) => `${d.version} ${d.id}`)).toEqual(['v2 2', 'v1 1'])
    // Written in the same file, so an older sidecar still reads its "apps".
    const file = JSON.parse(await readFile(join(dir, 'state.json'), 'utf8')) as {
      format: number
      apps: Record<string, unknown>
      history: Record<string, unknown[]>
    }
    expect(file.format).toBe(1)
    expect(file.apps.web).toEqual(store.current('web'))
    expect(file.history.web).toHaveLength(2)
  })
})
