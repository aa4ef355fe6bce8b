/**
 * `deploy-notify/react`: a hook for an app that draws its own prompt.
 *
 *   import { createNotifier, useDeployNotify } from 'deploy-notify/react'
 *
 * The React Router integration is `deploy-notify/react-router`, so apps without React Router
 * can use the hook.
 */
import { useEffect, useSyncExternalStore } from 'react'
import type { Deploy, Update } from '../index.js'
import type { NotifierState, WatchedNotifier } from './notifier-state.js'

export { createWatchedNotifier as createNotifier } from './notifier-state.js'
export type { NotifierState, WatchedNotifier } from './notifier-state.js'
export type { Deploy, NotifierOptions, Update } from '../index.js'

export interface DeployNotifyState {
  /** The update to offer: the deploy (version, message) and why; undefined when there is none. */
  update: Update | undefined
  /** True while an update waits for the user. */
  needReload: boolean
  /** The deploy the page was last found up to date with. */
  current: Deploy | undefined
  /** Reloads into the new version (through a waiting service worker when there is one). */
  reload: () => Promise<void>
  /** Later: withdraws the update, and the notifier never offers its version again. */
  dismiss: () => void
}

/** What the server renders, and what hydration starts from: nothing known yet. */
const SERVER_STATE: NotifierState = {}

/**
 * The notifier's state, for a prompt of the app's own (create the notifier with `ui: 'none'`).
 * Starts the notifier after the first render, so nothing runs during server-side rendering.
 */
export function useDeployNotify(notifier: WatchedNotifier): DeployNotifyState {
  const state = useSyncExternalStore(
    notifier.subscribe,
    () => notifier.state,
    () => SERVER_STATE,
  )
  useEffect(() => notifier.start(), [notifier])
  return {
    update: state.update,
    needReload: state.update !== undefined,
    current: state.current,
    reload: notifier.reload,
    dismiss: notifier.dismiss,
  }
}
