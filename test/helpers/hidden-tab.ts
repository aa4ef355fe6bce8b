import type { CDPSession } from 'playwright-core'
import { until } from './http.js'

/** A browser tab that a test can really send to the background, as a user does by switching tabs. */
export interface HiddenCapableTab {
  /** Evaluates `expression` in the tab's current document (awaiting a Promise) and returns its value. */
  evaluate<T>(expression: string): Promise<T>
  /** Puts another tab in front: the document becomes `hidden` and gets a real `visibilitychange`. */
  hide(): Promise<void>
  /** Brings this tab back to the front. */
  show(): Promise<void>
  /** Uncaught errors the tab's pages reported so far. */
  readonly errors: string[]
  close(): Promise<void>
}

interface Reply {
  id?: number
  method?: string
  result?: { result?: { value?: unknown }; exceptionDetails?: { text: string } }
  params?: { exceptionDetails?: { text: string; exception?: { description?: string } } }
  error?: { message: string }
}

/**
 * Opens `url` in a tab whose visibility is real. Headless Chromium keeps every page Playwright
 * drives visible: Playwright enables focus emulation on its own DevTools session for each of its
 * pages, and no other session can turn that off. This tab lives in a browser context Playwright
 * does not manage, driven over the DevTools protocol through `session` (from
 * `browser.browserSession()`); a second tab opened in the same window hides it exactly as a
 * user's switch to another tab does (`document.visibilityState === 'hidden'`).
 */
export async function openHiddenCapableTab(session: CDPSession, url: string): Promise<HiddenCapableTab> {
  const { browserContextId } = await session.send('Target.createBrowserContext', { disposeOnDetach: true })
  const { targetId } = await session.send('Target.createTarget', { url: 'about:blank', browserContextId })
  const { sessionId } = await session.send('Target.attachToTarget', { targetId, flatten: false })
  let lastId = 0
  const waiting = new Map<number, (reply: Reply) => void>()
  const errors: string[] = []
  session.on('Target.receivedMessageFromTarget', (event) => {
    if (event.sessionId !== sessionId) return
    const reply = JSON.parse(event.message) as Reply
    if (reply.id !== undefined) waiting.get(reply.id)?.(reply)
    const details = reply.method === 'Runtime.exceptionThrown' ? reply.params?.exceptionDetails : undefined
    if (details) errors.push(details.exception?.description ?? details.text)
  })
  // Through the browser session, since Playwright's page API does not reach this tab.
  const send = (method: string, params: object = {}): Promise<Reply> =>
    new Promise((resolve, reject) => {
      const id = ++lastId
      waiting.set(
        id,
        (reply) => (waiting.delete(id), reply.error ? reject(new Error(reply.error.message)) : resolve(reply)),
      )
      session
        .send('Target.sendMessageToTarget', { sessionId, message: JSON.stringify({ id, method, params }) })
        .catch(reject)
    })
  const evaluate = async <T>(expression: string): Promise<T> => {
    const reply = await send('Runtime.evaluate', { expression, awaitPromise: true, returnByValue: true })
    if (reply.result?.exceptionDetails) throw new Error(`${expression}: ${reply.result.exceptionDetails.text}`)
    return reply.result?.result?.value as T
  }
  const visibility = (state: string) =>
    until(async () => (await evaluate<string>('document.visibilityState').catch(() => '')) === state, `a ${state} tab`)

  await send('Runtime.enable')
  await send('Page.enable')
  await send('Page.navigate', { url })
  await until(
    async () => (await evaluate<string>('document.readyState').catch(() => '')) === 'complete',
    `${url} loaded in the tab`,
  )
  let front: string | undefined
  return {
    evaluate,
    errors,
    async hide() {
      front ??= (await session.send('Target.createTarget', { url: 'about:blank', browserContextId, newWindow: false }))
        .targetId
      await session.send('Target.activateTarget', { targetId: front })
      await visibility('hidden')
    },
    async show() {
      await session.send('Target.activateTarget', { targetId })
      await visibility('visible')
    },
    async close() {
      await session.send('Target.disposeBrowserContext', { browserContextId }).catch(() => {})
    },
  }
}
