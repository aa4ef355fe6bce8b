import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { getJson, notify } from './helpers/http.js'
import { runCli } from './helpers/process.js'
import { startTestSidecar, TOKEN, type TestSidecar } from './helpers/sidecar.js'
import { Subscriber } from './helpers/stream.js'

// A deploy's link to its release notes: from CI's `notify --notes-url` to every open page.
let sidecar: TestSidecar
beforeEach(async () => {
  sidecar = await startTestSidecar()
})
afterEach(async () => {
  await sidecar.close()
})

const NOTES = 'https://example.com/releases/v2?from=v1#search'

describe('--notes-url', () => {
  it('reaches open pages in the deploy event, /version and the state after a restart', async () => {
    const page = await Subscriber.open(sidecar.url, { app: 'web', version: 'v1' })
    try {
      const exit = await runCli(
        [
          'notify',
          '--url',
          sidecar.url,
          '--app',
          'web',
          '--version',
          'v2',
          '--message',
          'New search',
          '--notes-url',
          NOTES,
        ],
        { NOTIFY_TOKEN: TOKEN },
      )
      expect(exit.stderr).toBe('')
      expect(exit.code).toBe(0)
      expect((await page.next('deploy', 'v2')).data).toMatchObject({ message: 'New search', notesUrl: NOTES })
    } finally {
      page.close()
    }
    expect((await getJson(`${sidecar.url}/version?app=web`)).json).toMatchObject({ version: 'v2', notesUrl: NOTES })

    const { dataDir } = sidecar
    await sidecar.close({ remove: false })
    sidecar = await startTestSidecar({}, dataDir)
    const late = await Subscriber.open(sidecar.url, { app: 'web', version: 'v1' })
    try {
      expect((await late.next('version', 'v2')).data.notesUrl).toBe(NOTES)
    } finally {
      late.close()
    }
  })

  it.each([
    ['a javascript: URL', 'javascript:alert(1)'],
    ['a relative path', '/releases/v2'],
    ['a line break', 'https://example.com/a\r\nevent: deploy'],
    ['a quote', 'https://example.com/"onmouseover="x'],
    ['a space', 'https://example.com/release notes'],
    ['no host', 'https:///releases'],
    ['over 2048 characters', `https://example.com/${'a'.repeat(2030)}`],
  ])('refuses %s with 400, and the CLI exits 1 saying why', async (_name, notesUrl) => {
    const answer = await notify(sidecar.url, { app: 'web', version: 'v2', notesUrl })
    expect(answer.status).toBe(400)
    expect(answer.json).toEqual({
      error: 'DN_ERR_INVALID_REQUEST',
      message: expect.stringMatching(/^notesUrl must be an http/),
    })

    const exit = await runCli(
      ['notify', '--url', sidecar.url, '--app', 'web', '--version', 'v2', '--notes-url', notesUrl],
      {
        NOTIFY_TOKEN: TOKEN,
      },
    )
    expect(exit.code).toBe(1)
    expect(exit.stderr).toMatch(/rejected the deploy: 400 DN_ERR_\w+: notesUrl must be an http:\/\/ or https:\/\/ URL/)
    // Nothing changed: no version was made current.
    expect((await getJson(`${sidecar.url}/version?app=web`)).status).toBe(404)
  })
})
