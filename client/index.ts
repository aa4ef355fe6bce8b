/**
 * deploy-notify's browser client as a module:
 *
 *   import { createNotifier } from 'deploy-notify/client'
 *   const notifier = createNotifier({ url: 'https://sidecar.example', version: import.meta.env.DEPLOY_NOTIFY_VERSION })
 *
 * With no `url`, there is no sidecar: the page follows the app's version.json.
 *   notifier.start()
 */
import type { Deploy, Update } from './core/deploy.js'
import { memoryKey, session, storage } from './core/memory.js'
import { createNotifier as createCore, type Notifier as Core } from './core/notifier.js'
import type { NotifierOptions } from './core/options.js'

export interface Notifier extends Core {
  /**
   * Asks the sidecar and the origin; true when the page is out of date and a reload brings the
   * new version. With `href` (a router guard's target), an update navigates there with a full
   * page load instead, since the old bundle cannot load the new route's chunks; never twice for
   * one version in a tab, so a stale cache cannot make it loop.
   */
  check: (href?: string) => Promise<boolean>
}

/** When the on-demand part is fetched, after the page's own start. */
const WARM_AFTER_MS = 1000

/**
 * Creates the notifier; bad options give one console error, never a throw. The banner and the
 * rest of what acts on an update are a dynamic import, which the app's bundler splits off.
 */
export function createNotifier(options: NotifierOptions): Notifier {
  const url: unknown = options?.url
  // A tag's data-url is always text; code can pass anything. No sidecar then, as with none.
  if (url !== undefined && url !== null && typeof url !== 'string')
    console.error(`deploy-notify: the option url is ${typeof url}, not a URL; following version.json`)
  const ui = () => import('./on-demand/ui.js')
  // The bundler names the chunk by its build, and a deploy may remove the old build's files just
  // when the chunk is needed: it is fetched in the background once the page has started (never
  // in its first bundle), and import() then finds it loaded. Not on a server (SSR).
  if (typeof window === 'object') setTimeout(() => void ui().catch(() => {}), WARM_AFTER_MS)
  const core = createCore(options, ui)
  const check = core.check
  const key = memoryKey(options?.app)
  return Object.assign(core, {
    async check(href?: string): Promise<boolean> {
      const outdated = await check()
      const version = core.update?.version
      // Never twice for one version in a tab: the same memory Reload keeps.
      if (outdated && href && version && storage(session, key) !== version) {
        storage(session, key, version)
        location.assign(href)
      }
      return outdated
    },
  })
}

export type { NotifierOptions }
export type { Deploy, Position, Texts, Update } from './core/deploy.js'

// What the classic script (and so a page with both) dispatches on `window`.
declare global {
  interface WindowEventMap {
    'deploy-notify:update': CustomEvent<Update>
    'deploy-notify:current': CustomEvent<Deploy>
  }
}
