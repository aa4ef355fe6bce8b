/**
 * A notifier whose state a framework can watch: what the React hook and the Vue composable read.
 * It is created inert, so a module may create it at its top level and be imported during
 * server-side rendering; the real notifier is made on the first `start()` or `check()` in a browser.
 */
import { createNotifier, type Deploy, type Notifier, type NotifierOptions, type Update } from '../index.js'

/** What the page knows: an update to offer, or the deploy a check found the page running; at most one of the two. */
export interface NotifierState {
  /** A newer deploy (or a broken bundle) the page has not reloaded into; cleared by `dismiss()` and when a check finds the page current. */
  update?: Update
  /** The deploy the last check or event found the page up to date with (until an update comes). */
  current?: Deploy
}

/** A notifier, with its state to watch. Its functions need no `this`: pass them around as they are. */
export interface WatchedNotifier extends Notifier {
  /** The state now; a new object on every change. */
  readonly state: NotifierState
  /** Calls `listener` after every change of `state`; returns the unsubscribe function. */
  subscribe: (listener: () => void) => () => void
  reload: () => Promise<void>
  /** Later: withdraws the update, and the notifier never offers its version again. */
  dismiss: () => void
}

const inBrowser = (): boolean => typeof window !== 'undefined' && typeof document !== 'undefined'

/** Same options as `createNotifier` from `deploy-notify/client`; pass `ui: 'none'` when the app draws its own prompt. */
export function createWatchedNotifier(options: NotifierOptions): WatchedNotifier {
  let notifier: Notifier | undefined
  let started = false
  let state: NotifierState = {}
  const listeners = new Set<() => void>()
  const set = (next: NotifierState) => {
    state = next
    for (const listener of listeners) listener()
  }
  const real = (): Notifier | undefined =>
    inBrowser()
      ? (notifier ??= createNotifier({
          ...options,
          onUpdate(update) {
            set({ update })
            options.onUpdate?.(update)
          },
          onCurrent(deploy) {
            set({ current: deploy })
            options.onCurrent?.(deploy)
          },
        }))
      : undefined

  return {
    get state() {
      return state
    },
    get update() {
      return notifier?.update
    },
    subscribe: (listener) => {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
    /** Starts once, in a browser only; calling it again (every component that uses the hook) does nothing. */
    start() {
      if (started || !inBrowser()) return
      started = true
      real()!.start()
    },
    stop() {
      started = false
      notifier?.stop()
    },
    check: (href) => real()?.check(href) ?? Promise.resolve(false),
    reload: () => real()?.reload() ?? Promise.resolve(),
    // apply: 'auto' takes a navigation over as a full load; elsewhere (or on a server) it never does.
    navigate: (href) => notifier?.navigate(href) ?? false,
    // Later: the notifier never offers the dismissed version again, in any tab of the app.
    dismiss: () => {
      notifier?.dismiss()
      if (state.update) set({})
    },
  }
}
