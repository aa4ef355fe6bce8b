/** A deploy as the sidecar pushes it: the data of `version` and `deploy` events and of `/version`. */
export interface Deploy {
  app: string
  version: string
  id: string
  time: string
  message?: string
  mandatory?: boolean
  /** Where the release notes are; shown as "What's new" only when it is an http(s) URL. */
  notesUrl?: string
  /**
   * Set on the `version` event a stream opens with when the sidecar never deployed the page's
   * version: the page may be newer than the sidecar knows (loaded in the deploy window).
   */
  unknownVersion?: boolean
}

/**
 * What the page is told, once the app's origin serves a version other than the running one:
 * the `detail` of `deploy-notify:update` and the argument of `onUpdate`, with the means to act.
 */
export interface Update {
  /** The announced deploy; absent when the bundle broke before the sidecar knew of a new one. */
  deploy?: Deploy
  reason: 'deploy' | 'broken'
  /** The version the app's origin serves now: what Reload brings. */
  version: string
  /** Reloads into it, through a waiting service worker when there is one. */
  reload: () => Promise<void>
  /** Asks again; true while the page is out of date. */
  check: () => Promise<boolean>
  /** Later: hides the banner, in every tab of the app, and never prompts for this version again. */
  dismiss: () => void
}

/** The words of the banner; every one can be replaced through options. */
export interface Texts {
  message: string
  reload: string
  later: string
}

/** Where the built-in banner sits. */
export type Position = 'top' | 'bottom'

/** What the banner takes from the options. */
export interface BannerOptions {
  texts?: Partial<Texts>
  position?: Position
}
