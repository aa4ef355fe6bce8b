import type { Deploy, DeployRequest } from '../../contract/deploy.js'

/** Deploys kept per app for `/status`: enough to see the last weeks of a busy app, small to write. */
export const HISTORY_LENGTH = 20

/** What a publish did: a new current deploy, a repeat of the current one, or a late one refused. */
export type PublishOutcome =
  { kind: 'changed'; deploy: Deploy } | { kind: 'unchanged'; deploy: Deploy } | { kind: 'stale'; current: Deploy }

/** Open streams by app and running version: one process's, or every replica's. */
export interface StreamCounts {
  apps(): Iterable<string>
  versions(app: string): ReadonlyMap<string, number>
  /**
   * Why the counts of `app` may miss open pages (a replica stopped reporting, the shared counts
   * cannot be read), or undefined when they are complete. Absent: always complete.
   */
  incomplete?(app: string): string | undefined
  /** Pages claimed past a client address's bound, reported apart from `versions` (this process's). */
  excess?(app: string): number
}

/** Every process's counts, shared through the store until `close()`. */
export interface SharedCounts extends StreamCounts {
  close(): Promise<void>
}

/**
 * How soon a replica lets go of its streams once `isolated()` says it is cut off from the
 * others: each open stream ends at a random moment within this window (so its pages reconnect
 * spread out, to replicas that count them), and no new stream is taken meanwhile.
 */
export const LET_GO_MS = 5000

/**
 * Where the current deploy of each app lives, how changes travel, and what replicas share.
 * The routes only call `publish` and read; the hub only listens. Implementations: `file.ts`
 * (one process) and `redis.ts` (replicas), chosen once by `createStore` (`create-store.ts`).
 * Whatever a store reads back from storage is checked field by field (`stored-deploy.ts`)
 * before it is served: a record that fails is ignored and counted in `rejected`.
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
   * lower sequence. It is durable before the promise resolves and before listeners run; when
   * it cannot be, the promise rejects with a `StoreUnavailableError` and nothing changed.
   */
  publish(request: DeployRequest): Promise<PublishOutcome>
  /** Calls `listener` with every changed deploy, after it is durable. */
  onChange(listener: (deploy: Deploy) => void): void
  /** Why a publish cannot succeed now (Redis away, a file that cannot be written), or undefined. */
  problem(): string | undefined
  /**
   * Why this process cannot share its pages with the other replicas now (its link to Redis is
   * down or hung), or undefined. While it says so, the app holds no streams (`LET_GO_MS`): its
   * pages would be counted nowhere. Always undefined for the file store, whose one process has
   * nowhere else to send them.
   */
  isolated(): string | undefined
  /** Records read from storage that broke a field rule and were ignored, since the start. */
  readonly rejected: number
  /**
   * Open streams over every process that shares this store, given this process's own. The
   * file store has one process, so it answers `local`; the Redis store shares them over its
   * connection. `close()` stops the sharing.
   */
  streamCounts(local: StreamCounts): SharedCounts
  close(): Promise<void>
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
