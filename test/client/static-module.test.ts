import { readFile, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'
import type { Page } from 'playwright-core'
import { describe, expect, it } from 'vitest'
import { skipBrowserTests, useBrowser } from '../helpers/browser.js'
import { findNginx } from '../helpers/nginx.js'
import { useStaticSite } from '../helpers/static-site.js'

const nginxBinary = findNginx()
if (!nginxBinary && !process.env.CI) {
  console.warn(
    '\n!!! nginx not found: SKIPPING test/client/static-module.test.ts (set NGINX=/path/to/nginx; CI fails instead) !!!\n',
  )
}

/** test/fixtures/static-app: a Vite app that imports `deploy-notify/client` and leaves `url` out. */
const ROOT = fileURLToPath(new URL('../fixtures/static-app/', import.meta.url))
/** What every page may pay for the client at start: the classic script's budget. */
const BUDGET_BYTES = 2355

interface ModuleWindow {
  notifier: { check(href?: string): Promise<boolean> }
}

/** The first bundle of a build: the entry chunk its index.html loads, gzipped, and the build's other chunks. */
async function chunks(folder: string): Promise<{ entry: number; others: string[] }> {
  const html = await readFile(join(folder, 'index.html'), 'utf8')
  const entry = /<script type="module" crossorigin src="\/assets\/([^"]+)"/.exec(html)![1]!
  const all = (await readdir(join(folder, 'assets'))).filter((name) => name.endsWith('.js'))
  const source = await readFile(join(folder, 'assets', entry))
  const others = await Promise.all(
    all.filter((name) => name !== entry).map((name) => readFile(join(folder, 'assets', name), 'utf8')),
  )
  return { entry: gzipSync(source, { level: 9 }).length, others }
}

/**
 * Opens `url` and waits until the page has fetched the module's on-demand part, which it does in
 * the background after its start; a deploy that removes the old build's files comes later.
 */
async function openStarted(browser: ReturnType<typeof useBrowser>, url: string, page?: Page): Promise<Page> {
  page ??= await browser.newPage()
  const onDemand = page.waitForResponse((response) => /\/assets\/ui-[\w-]+\.js$/.test(response.url()))
  await page.goto(url)
  expect((await onDemand).status()).toBe(200)
  return page
}

/** Runs `action` in the page, which navigates away meanwhile (so its context may vanish). */
const navigating = (page: Page, action: () => unknown): Promise<void> =>
  page.evaluate(action).then(
    () => {},
    () => {},
  )

describe.skipIf(skipBrowserTests || (!nginxBinary && !process.env.CI))('the module with no sidecar', () => {
  const browser = useBrowser()
  // No timer in these builds (ten minutes): what is seen, check() sees.
  const site = useStaticSite(nginxBinary ?? 'nginx', ROOT, {
    v1: { APP_VERSION: 'v1', VITE_POLL_INTERVAL: '600000' },
    v2: { APP_VERSION: 'v2', VITE_POLL_INTERVAL: '600000' },
    bare: { APP_VERSION: 'v1', VITE_NO_NOTIFIER: '1' },
  })

  it("follows version.json with url left out: a router guard's check(href) loads the new version", async () => {
    await site().deploy('v1')
    const page = await openStarted(browser, `${site().url}/`)
    expect(await page.evaluate(() => (window as unknown as ModuleWindow).notifier.check())).toBe(false)

    await site().deploy('v2')
    // The old bundle cannot load the new route's chunks: the guard hands the route to a full load.
    await Promise.all([
      page.waitForEvent('load', { timeout: 5000 }),
      navigating(page, () => (window as unknown as ModuleWindow).notifier.check('/orders')),
    ])
    expect(new URL(page.url()).pathname).toBe('/orders')
    await page.getByRole('heading', { name: 'shop v2' }).waitFor({ timeout: 3000 })
  })

  it.each([
    { bad: 'url', error: /^deploy-notify: the option url is number/ },
    { bad: 'all', error: /^deploy-notify: the option version is undefined/ },
  ])('options that are wrong ($bad) give one console error and never break the page', async ({ bad, error }) => {
    await site().deploy('v1')
    const page = await browser.newPage()
    const errors: string[] = []
    page.on('console', (message) => void (message.type() === 'error' && errors.push(message.text())))
    browser.allowError(page, /deploy-notify:/)
    await openStarted(browser, `${site().url}/?bad=${bad}`, page)
    await page.getByRole('heading', { name: 'shop v1' }).waitFor()
    await site().deploy('v2')
    // A wrong url means no sidecar: version.json still tells; with no version, nothing does.
    const outdated = await page.evaluate(() => (window as unknown as ModuleWindow).notifier.check())
    expect(outdated).toBe(bad === 'url')
    expect(errors.filter((text) => text.startsWith('deploy-notify:'))).toHaveLength(1)
    expect(errors.find((text) => text.startsWith('deploy-notify:'))).toMatch(error)
  })

  it("adds no more to the app's first bundle than the classic script's budget; the banner is split off", async () => {
    const withClient = await chunks(site().folder('v1'))
    const without = await chunks(site().folder('bare'))
    const added = withClient.entry - without.entry
    console.log(`deploy-notify/client adds ${added} B gzipped to the first bundle (budget ${BUDGET_BYTES} B)`)
    expect(added).toBeLessThanOrEqual(BUDGET_BYTES)
    // The banner's markup is in a chunk of its own, loaded when an update comes.
    expect(withClient.others.some((source) => source.includes('attachShadow'))).toBe(true)
  })
})
