import type { Deploy, DeployRequest } from '../../contract/deploy.js'

/** Deploys kept per app for `/status`: enough to see the last weeks of a busy app, small to write. */
export const HISTORY_LENGTH = 20

/** What a publish did: a new current deploy, a repeat of the current one, or a late one refused. */
export type PublishOutcome =
  { kind: 'changed'; deploy: Deploy } | { kind: 'unchanged'; deploy: Deploy } | { kind: 'stale'; current: Deploy }

/**
 * Where the current deploy of each app lives and how changes travel. The routes only call
 * `publish` and read; the hub only listens. Implementations: `file.ts` (one process) and
 * `redis.ts` (replicas), chosen once in `main.ts`.
 */
export interface Store {
  /** The current deploy of an app, if any was ever accepted. */
  current(app: string): Deploy | undefined
  /** The current deploy of every known app. */
  all(): Deploy[]
  /** The last `HISTORY_LENGTH` deploys of an app, newest (the current one) first; empty if none. */
  history(app: string): Deploy[]
  /**
   * Makes a request the current deploy unless it repeats the current version or carries a
   * lower sequence. It is durable before the promise resolves and before listeners run.
   */
  publish(request: DeployRequest): Promise<PublishOutcome>
  /** Calls `listener` with every changed deploy, after it is durable. */
  onChange(listener: (deploy: Deploy) => void): void
  /** Whether a publish can succeed now (Redis reachable); `/healthz` reports it. */
  connected(): boolean
  close(): Promise<void>
}

/** A store that cannot be opened or written; the message names the file and what to do. */
export class StoreError extends Error {
  override name = 'StoreError'
}

/** The rule every store applies to a request, given the app's current deploy. */
export function decide(current: Deploy | undefined, request: DeployRequest, time: Date): PublishOutcome {
  if (current?.version === request.version) return { kind: 'unchanged', deploy: current }
  if (current?.sequence !== undefined && request.sequence !== undefined && request.sequence < current.sequence) {
    return { kind: 'stale', current }
  }
  const deploy: Deploy = {
    app: request.app,
    version: request.version,
    id: String(Number(current?.id ?? 0) + 1),
    time: time.toISOString(),
  }
  if (request.message !== undefined) deploy.message = request.message
  if (request.notesUrl !== undefined) deploy.notesUrl = request.notesUrl
  if (request.mandatory !== undefined) deploy.mandatory = request.mandatory
  if (request.sequence !== undefined) deploy.sequence = request.sequence
  return { kind: 'changed', deploy }
}

/** An app's history after `deploy` became current: newest first, at most `HISTORY_LENGTH`. */
export function withDeploy(history: readonly Deploy[], deploy: Deploy): Deploy[] {
  return [deploy, ...history].slice(0, HISTORY_LENGTH)
}
