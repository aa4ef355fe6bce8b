import { existsSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { chromium, type Browser, type BrowserContext, type CDPSession, type Locator, type Page } from 'playwright-core'
import { afterAll, afterEach, beforeAll } from 'vitest'
import type { Deploy } from '../../contract/deploy.js'

/**
 * The browser the client is tested in: Debian's chromium, driven by playwright-core. Never a
 * downloaded one, so what runs here is what the distribution ships.
 */
export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium'

const LAUNCH_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
]

const chromiumMissing = !existsSync(CHROMIUM)
if (chromiumMissing && !process.env.CI) {
  console.warn(
    `\n!!! ${CHROMIUM} not found: SKIPPING the browser tests in test/client/ (apt-get install chromium, or set CHROMIUM; CI fails instead) !!!\n`,
  )
}

/** `describe.skipIf(skipBrowserTests)`: skipped locally without chromium, never in CI. */
export const skipBrowserTests = chromiumMissing && !process.env.CI

const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/client/', import.meta.url))

/** What the client passes in `deploy-notify:update`. */
export interface UpdateDetail {
  deploy?: Deploy
  reason: 'deploy' | 'broken'
}

/**
 * Every page records the client's window events from its first script on, so a test can wait
 * for them and prove what did (or did not) happen before.
 */
const RECORD_EVENTS = `(() => {
  const record = { updates: [], currents: [] }
  Object.defineProperty(window, '__deployNotifyTest', { value: record })
  addEventListener('deploy-notify:update', (e) => record.updates.push(JSON.parse(JSON.stringify(e.detail ?? null))))
  addEventListener('deploy-notify:current', (e) => record.currents.push(JSON.parse(JSON.stringify(e.detail ?? null))))
})()`

/** `window` with the recorder; functions run in the page must name it inline (they are sent as source). */
interface RecordingWindow {
  __deployNotifyTest: { updates: UpdateDetail[]; currents: Deploy[] }
}

/**
 * Console errors that are the browser reporting a network failure a test caused on purpose
 * (a 404 chunk, a 500 or 502 stream, a stream with the wrong type), not code throwing.
 */
const NETWORK_NOISE = [/^Failed to load resource/, /net::ERR_/, /EventSource's response has a MIME type/]

export interface BrowserHarness {
  /** A fresh context (its own storage, locks and service workers), closed after the test. */
  newContext(): Promise<BrowserContext>
  /** A new, blank page of `context` (a fresh context by default), watched for errors. */
  newPage(context?: BrowserContext): Promise<Page>
  /** Opens `url` in a new page of `context` (a fresh context by default), after its `load`. */
  open(url: string, context?: BrowserContext): Promise<Page>
  /** Lets `page` report a page error matching `pattern` (the test page's own, e.g. an uncaught import()). */
  allowError(page: Page, pattern: RegExp): void
  /** A DevTools session with the browser itself, detached after the test (for test/helpers/hidden-tab.ts). */
  browserSession(): Promise<CDPSession>
}

/**
 * Launches chromium once for the calling test file and gives each test fresh contexts. After
 * each test it closes them and fails the test if a page threw (or logged an error) that the
 * test did not allow: the client must never break the page it sits in.
 */
export function useBrowser(): BrowserHarness {
  let browser: Browser | undefined
  const contexts: BrowserContext[] = []
  const sessions: CDPSession[] = []
  const errors = new Map<Page, string[]>()
  const allowed = new Map<Page, RegExp[]>()

  beforeAll(async () => {
    if (chromiumMissing)
      throw new Error(
        `chromium is required in CI: install it (apt-get install chromium) or set CHROMIUM (looked at ${CHROMIUM})`,
      )
    browser = await chromium.launch({ executablePath: CHROMIUM, args: LAUNCH_ARGS })
  })

  afterAll(async () => {
    await browser?.close()
  })

  afterEach(async (context) => {
    const failed = context.task.result?.state === 'fail'
    const unexpected: string[] = []
    for (const [page, messages] of errors) {
      const allow = allowed.get(page) ?? []
      for (const message of messages)
        if (!allow.some((pattern) => pattern.test(message))) unexpected.push(`${page.url()}: ${message}`)
    }
    if (failed) {
      const pages = contexts.flatMap((c) => c.pages())
      await Promise.all(pages.map((page, i) => screenshot(page, `${context.task.name}-${i}`).catch(() => {})))
    }
    await Promise.all(contexts.splice(0).map((c) => c.close().catch(() => {})))
    await Promise.all(sessions.splice(0).map((s) => s.detach().catch(() => {})))
    errors.clear()
    allowed.clear()
    if (unexpected.length > 0) throw new Error(`the page reported errors:\n${unexpected.join('\n')}`)
  })

  const watch = (page: Page): void => {
    if (errors.has(page)) return
    const list: string[] = []
    errors.set(page, list)
    page.on('pageerror', (error) => list.push(`pageerror: ${error.message}`))
    page.on('console', (message) => {
      if (message.type() !== 'error') return
      const text = message.text()
      if (!NETWORK_NOISE.some((pattern) => pattern.test(text))) list.push(`console.error: ${text}`)
    })
  }

  const newContext = async (): Promise<BrowserContext> => {
    if (!browser) throw new Error('no browser: useBrowser() must run inside a describe block of a test file')
    const context = await browser.newContext()
    contexts.push(context)
    // Below the test timeout, so a stuck wait fails with Playwright's account of what it waited for.
    context.setDefaultTimeout(8000)
    await context.addInitScript(RECORD_EVENTS)
    context.on('page', watch)
    return context
  }

  const newPage = async (context?: BrowserContext): Promise<Page> => {
    const page = await (context ?? (await newContext())).newPage()
    watch(page)
    return page
  }

  return {
    newContext,
    newPage,
    async open(url, context) {
      const page = await newPage(context)
      await page.goto(url)
      return page
    },
    allowError(page, pattern) {
      allowed.set(page, [...(allowed.get(page) ?? []), pattern])
    },
    async browserSession() {
      if (!browser) throw new Error('no browser: useBrowser() must run inside a describe block of a test file')
      const session = await browser.newBrowserCDPSession()
      sessions.push(session)
      return session
    },
  }
}

/** The banner: the `role="status"` element that offers **Reload**. */
export function banner(page: Page): Locator {
  return page.getByRole('status').filter({ has: reloadButton(page) })
}

export function reloadButton(page: Page): Locator {
  return page.getByRole('button', { name: 'Reload', exact: true })
}

export function laterButton(page: Page): Locator {
  return page.getByRole('button', { name: 'Later', exact: true })
}

/** Every `deploy-notify:update` the page saw so far, oldest first. */
export function updates(page: Page): Promise<UpdateDetail[]> {
  return page.evaluate(() => (window as unknown as RecordingWindow).__deployNotifyTest.updates)
}

/** Every `deploy-notify:current` the page saw so far, oldest first. */
export function currents(page: Page): Promise<Deploy[]> {
  return page.evaluate(() => (window as unknown as RecordingWindow).__deployNotifyTest.currents)
}

/** Waits (bounded) until the page saw at least `count` updates, and returns them all. */
export async function waitForUpdates(page: Page, count = 1, timeout = 5000): Promise<UpdateDetail[]> {
  await page
    .waitForFunction((n) => (window as unknown as RecordingWindow).__deployNotifyTest.updates.length >= n, count, {
      timeout,
      polling: 50,
    })
    .catch(async (error: Error) => {
      throw new Error(
        `expected ${count} deploy-notify:update event(s) within ${timeout} ms, got ${JSON.stringify(await updates(page))}: ${error.message}`,
      )
    })
  return updates(page)
}

/** Waits (bounded) until the page saw at least `count` up-to-date reports, and returns them all. */
export async function waitForCurrents(page: Page, count = 1, timeout = 5000): Promise<Deploy[]> {
  await page
    .waitForFunction((n) => (window as unknown as RecordingWindow).__deployNotifyTest.currents.length >= n, count, {
      timeout,
      polling: 50,
    })
    .catch(async (error: Error) => {
      throw new Error(
        `expected ${count} deploy-notify:current event(s) within ${timeout} ms, got ${JSON.stringify(await currents(page))}: ${error.message}`,
      )
    })
  return currents(page)
}

/** The version in the page's client script tag: which build the page runs. */
export function runningVersion(page: Page): Promise<string | undefined> {
  return page.evaluate(() => document.querySelector<HTMLScriptElement>('script[data-version]')?.dataset.version)
}

/** Saves a PNG of the page under test-artifacts/client/ (gitignored), for a human to look at. */
export async function screenshot(page: Page, name: string): Promise<string> {
  await mkdir(ARTIFACTS, { recursive: true })
  const path = `${ARTIFACTS}${name.replace(/[^\w.-]+/g, '-')}.png`
  await page.screenshot({ path })
  return path
}

export interface StreamMessage {
  /** The SSE event name: `version` or `deploy`. */
  type: string
  data: string
}

export interface StreamWatch {
  readonly received: StreamMessage[]
  /** Resolves once the page's EventSource received a `type` event of `version` (bounded). */
  next(type: string, version: string, timeoutMs?: number): Promise<void>
}

/**
 * What the page's own EventSources receive, through the DevTools protocol; it outlives
 * navigations of the page. Start it before the page loads (`browser.newPage()`, then
 * `page.goto()`), or the first events may pass unseen. Lets a test wait until the page has been told something, so a later
 * event can prove the earlier one was handled (events are handled in the order they arrive).
 */
export async function watchStream(page: Page): Promise<StreamWatch> {
  const cdp = await page.context().newCDPSession(page)
  const received: StreamMessage[] = []
  const waiters: { match: (m: StreamMessage) => boolean; resolve: () => void }[] = []
  cdp.on('Network.eventSourceMessageReceived', ({ eventName, data }) => {
    const message = { type: eventName, data }
    received.push(message)
    for (const waiter of waiters.splice(0)) {
      if (waiter.match(message)) waiter.resolve()
      else waiters.push(waiter)
    }
  })
  await cdp.send('Network.enable')
  const versionOf = (m: StreamMessage): string | undefined => {
    try {
      return (JSON.parse(m.data) as Deploy).version
    } catch {
      return undefined
    }
  }
  return {
    received,
    next(type, version, timeoutMs = 5000) {
      const match = (m: StreamMessage): boolean => m.type === type && versionOf(m) === version
      if (received.some(match)) return Promise.resolve()
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(
              new Error(
                `the page's stream got no ${type} ${version} within ${timeoutMs} ms; got ${JSON.stringify(received)}`,
              ),
            ),
          timeoutMs,
        )
        waiters.push({ match, resolve: () => (clearTimeout(timer), resolve()) })
      })
    },
  }
}

/** Whether `page` starts loading a new document within `ms` (a bounded wait that should run out). */
export const loadsWithin = (page: Page, ms: number): Promise<boolean> =>
  page.waitForEvent('load', { timeout: ms }).then(
    () => true,
    () => false,
  )
