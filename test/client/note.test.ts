import type { Page } from 'playwright-core'
import { describe, expect, it } from 'vitest'
import { banner, reloadButton, runningVersion, screenshot, skipBrowserTests, useBrowser } from '../helpers/browser.js'
import { notify } from '../helpers/http.js'
import { appPage, clientTags, useAppServers } from '../helpers/pages.js'
import { useSidecar } from '../helpers/sidecar.js'
import { versionFile } from './releases.js'
import { waitForStreams } from './sidecars.js'

const NOTES = 'https://example.com/releases/2'

/** Counts the page's requests of `url` from now on. */
function countRequests(page: Page, url: string): { readonly count: number } {
  const seen = { count: 0 }
  page.on('request', (request) => request.url() === url && seen.count++)
  return seen
}

// After the reload into a new version, the user is told what changed, once.
describe.skipIf(skipBrowserTests)('the note after an update', () => {
  const browser = useBrowser()
  const serve = useAppServers()
  const sidecar = useSidecar({ RETRY_MS: '200' })

  const client = clientTags(() => sidecar().url)

  it('shows "Updated" with the message and the notes link after Reload, once', async () => {
    const app = 'note-reload'
    const site = await serve({ '/version.json': versionFile('v1'), '/': appPage({ client: client(app, 'v1') }) })
    const page = await browser.open(`${site.url}/`)
    await waitForStreams(sidecar().url, app, 1)

    site.setFile('/', appPage({ client: client(app, 'v2') }))

    site.setFile('/version.json', versionFile('v2'))
    await notify(sidecar().url, { app, version: 'v2', message: 'New search', notesUrl: NOTES })
    // The banner offers the notes too.
    const offer = banner(page)
    await offer.getByText('New search').waitFor({ timeout: 5000 })
    const link = offer.getByRole('link', { name: "What's new" })
    expect(await link.getAttribute('href')).toBe(NOTES)
    expect(await link.getAttribute('rel')).toBe('noopener')
    expect(await link.getAttribute('target')).toBe('_blank')

    await Promise.all([page.waitForEvent('load'), reloadButton(page).click()])
    expect(await runningVersion(page)).toBe('v2')
    const note = page.getByRole('status').filter({ hasText: 'Updated — New search' })
    await note.waitFor({ timeout: 3000 })
    expect(await note.getByRole('link', { name: "What's new" }).getAttribute('href')).toBe(NOTES)
    expect(await reloadButton(page).count()).toBe(0)
    await screenshot(page, 'note-after-update')

    await note.getByRole('button', { name: 'OK' }).click()
    await note.waitFor({ state: 'hidden', timeout: 1000 })
    // Shown once: the next load of the same version says nothing. The client decides before it
    // subscribes, and a note would need the apply part.
    const parts = countRequests(page, `${sidecar().url}/client-ui.js`)
    const subscribed = page.waitForRequest((r) => r.url().startsWith(`${sidecar().url}/events?`))
    await page.reload()
    await subscribed
    expect(parts.count).toBe(0)
    expect(await page.getByRole('status').count()).toBe(0)
  })

  it.each([
    { lang: 'zh-CN', updated: '已更新 — 新搜索', notes: '更新内容' },
    { lang: 'ru', updated: 'Обновлено — Новый поиск', notes: 'Что нового' },
  ])('speaks the page language ($lang)', async ({ lang, updated, notes }) => {
    const app = `note-${lang.toLowerCase()}`
    const site = await serve({ '/version.json': versionFile('v1'), '/': appPage({ client: client(app, 'v1'), lang }) })
    const page = await browser.open(`${site.url}/`)
    await waitForStreams(sidecar().url, app, 1)

    site.setFile('/', appPage({ client: client(app, 'v2'), lang }))

    site.setFile('/version.json', versionFile('v2'))
    await notify(sidecar().url, { app, version: 'v2', message: updated.split(' — ')[1], notesUrl: NOTES })
    await page.getByRole('status').getByRole('link', { name: notes }).waitFor({ timeout: 5000 })
    await Promise.all([page.waitForEvent('load'), page.getByRole('status').getByRole('button').first().click()])
    await page.getByRole('status').filter({ hasText: updated }).getByRole('link', { name: notes }).waitFor()
  })
})
