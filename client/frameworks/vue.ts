/**
 * `deploy-notify/vue`: a composable for an app that draws its own prompt, and a Vue Router guard
 * that never breaks navigation.
 *
 *   import { createNotifier, guardNavigation, useDeployNotify } from 'deploy-notify/vue'
 */
import { computed, onMounted, onScopeDispose, shallowRef, type ComputedRef } from 'vue'
import type { Router } from 'vue-router'
import { checkBeforeNavigation, type NavigationCheckOptions } from './navigation.js'
import type { Deploy, Notifier, Update } from '../index.js'
import type { WatchedNotifier } from './notifier-state.js'

export { createWatchedNotifier as createNotifier } from './notifier-state.js'
export type { NotifierState, WatchedNotifier } from './notifier-state.js'
export type { NavigationCheckOptions } from './navigation.js'
export type { Deploy, NotifierOptions, Update } from '../index.js'

export interface DeployNotifyRefs {
  /** The update to offer: the deploy (version, message) and why; undefined when there is none. */
  update: ComputedRef<Update | undefined>
  /** True while an update waits for the user. */
  needReload: ComputedRef<boolean>
  /** The deploy the page was last found up to date with. */
  current: ComputedRef<Deploy | undefined>
  /** Reloads into the new version (through a waiting service worker when there is one). */
  reload: () => Promise<void>
  /** Later: withdraws the update, and the notifier never offers its version again. */
  dismiss: () => void
}

/**
 * The notifier's state as refs, for a prompt of the app's own (create the notifier with
 * `ui: 'none'`). Starts the notifier when the component mounts, so nothing runs during
 * server-side rendering.
 */
export function useDeployNotify(notifier: WatchedNotifier): DeployNotifyRefs {
  const state = shallowRef(notifier.state)
  let unsubscribe = () => {}
  onMounted(() => {
    unsubscribe = notifier.subscribe(() => (state.value = notifier.state))
    state.value = notifier.state
    notifier.start()
  })
  onScopeDispose(() => unsubscribe())
  return {
    update: computed(() => state.value.update),
    needReload: computed(() => state.value.update !== undefined),
    current: computed(() => state.value.current),
    reload: () => notifier.reload(),
    dismiss: () => notifier.dismiss(),
  }
}

/**
 * Checks the version before every navigation but the first, within `timeout` (2 s by default;
 * then the navigation proceeds as if current). When the page is out of date, the target is
 * loaded in full, at the URL the router resolves it to (its base and history mode, hash
 * included), and the navigation stays pending while the page unloads. Returns the function
 * that removes the guard.
 */
export function guardNavigation(
  router: Router,
  notifier: Pick<Notifier, 'check'>,
  options?: NavigationCheckOptions,
): () => void {
  // The first navigation of a fresh page is the page itself: never held, never reloaded.
  let ready = false
  const settle = () => (ready = true)
  router.isReady().then(settle, settle)
  return router.beforeEach(async (to) => {
    if (!ready) return
    if (await checkBeforeNavigation(notifier, router.resolve(to).href, options)) return new Promise<never>(() => {})
  })
}
