import type { Deploy } from './deploy.js'

/**
 * The body of `GET /status` and the data of the status page's `status` events: counts and
 * deploys only. Types only, so the status page's browser script reads the same shape.
 */

/** Open pages per running version, at most `MAX_VERSIONS` (server/status.ts) names plus `other`. */
export type VersionCounts = Record<string, number>

/** Open pages of an app by version at one moment, for the chart of the last hour. */
export interface Sample {
  /** Epoch milliseconds. */
  t: number
  versions: VersionCounts
}

export interface AppStatus {
  current: Deploy | null
  /** Newest first; the first is the current deploy. */
  history: Deploy[]
  /** Open pages: every tab, also those that share their browser's one stream. */
  pages: {
    total: number
    versions: VersionCounts
    /**
     * Present when a client address claimed more pages than it may have counted (10 per stream
     * it may hold): those claims, not in `total`. They may be pages of any version, so the counts
     * are then incomplete (`pagesComplete` false).
     */
    excess?: number
  }
  /**
   * False when `pages` may miss open pages: a replica stopped reporting (cut off from Redis,
   * hung, killed) and its pages may not have moved yet, this replica cannot read the others'
   * counts, or a client address claimed pages past its bound (`pages.excess`). Never a reason to take a count as zero: `prune` deletes nothing and `wait-drained`
   * keeps waiting while it is false. Always sent; absent only from sidecars older than this field.
   */
  pagesComplete?: boolean
  /** Why `pagesComplete` is false ("replica web-1/42/9f3a stopped reporting 4 s ago"); absent when it is true. */
  pagesIncomplete?: string
  /** The same numbers as `pages`, under the name of deploy-notify 0.1; read `pages`. */
  streams: { total: number; versions: VersionCounts }
  /** Oldest first, one per `SAMPLE_INTERVAL_MS` over the last `SAMPLE_WINDOW_MS`. */
  samples: Sample[]
}

/** The body of `GET /status`. Counts only: nothing identifies a page or needs the notify token. */
export interface Status {
  apps: Record<string, AppStatus>
  /** When the snapshot was taken, ISO-8601, so readers can say "deployed 5 minutes ago". */
  time: string
}
