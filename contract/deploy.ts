/** A deploy: what CI announces and what every open page receives. */

/** What CI sends to `POST /notify`. */
export interface DeployRequest {
  app: string
  version: string
  message?: string
  /** A link to the release notes, shown as "What's new" (http or https). */
  notesUrl?: string
  mandatory?: boolean
  /** CI's build number or commit time; a lower one than the current deploy's is refused. */
  sequence?: number
}

/** The current state of an app: the event data of `version` and `deploy` events. */
export interface Deploy extends DeployRequest {
  /** Increases by one per change of the app; also the SSE `id:`. */
  id: string
  /** When the sidecar accepted it, ISO-8601. */
  time: string
}

export const DEFAULT_APP = 'default'
