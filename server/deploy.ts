/** A deploy: what CI announces and what every open page receives. */

/** What CI sends to `POST /notify`. */
export interface DeployRequest {
  app: string
  version: string
  message?: string
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

/**
 * The field rules, as JSON-schema fragments shared by the routes. They keep CR, LF and NUL
 * out of everything that reaches the SSE encoder or a metrics label.
 */
export const appSchema = { type: 'string', pattern: '^[A-Za-z0-9._-]{1,64}$' } as const

/** 1-128 printable ASCII characters, no leading or trailing space. */
export const versionSchema = {
  type: 'string',
  minLength: 1,
  maxLength: 128,
  pattern: '^[!-~](?:[ -~]*[!-~])?$',
} as const

export const messageSchema = { type: 'string', maxLength: 1000 } as const

export const sequenceSchema = { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER } as const
