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
}

/** What the page is told: a deploy it does not run, or a bundle that already broke. */
export interface Update {
  /** Absent when the bundle broke (a chunk failed to load) before the new version was known. */
  deploy?: Deploy
  reason: 'deploy' | 'broken'
}
