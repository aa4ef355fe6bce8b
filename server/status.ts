import { OTHER_VERSIONS } from '../contract/pages.js'
import type { AppStatus, Sample, Status, VersionCounts } from '../contract/status.js'
import type { Store, StreamCounts } from './store/store.js'

/**
 * Distinct versions counted by name per app, in `/status`, its samples and the metrics; the
 * rest are summed as `other`. Any page can claim any version, so without a cap a buggy or
 * hostile client would grow every sample and every scrape.
 */
export const MAX_VERSIONS = 20

/** How often the sampler records each app's open pages by version, and for how long. */
export const SAMPLE_INTERVAL_MS = 10_000
export const SAMPLE_WINDOW_MS = 60 * 60_000
/**
 * An app the store does not know (no deploy) is forgotten this long after its last open page,
 * not after the hour: a made-up app name costs its samples for seconds, not an hour.
 */
export const FORGET_UNKNOWN_APP_MS = 20_000
const MAX_SAMPLES = SAMPLE_WINDOW_MS / SAMPLE_INTERVAL_MS

/** Open pages by app and running version: this process's (`page-counts.ts`), or every replica's (the store shares them). */
export type { StreamCounts }
/** The wire shape of `/status` and of the status page's `status` events. */
export type { AppStatus, Sample, Status, VersionCounts }

const total = (versions: ReadonlyMap<string, number>): number => {
  let sum = 0
  for (const count of versions.values()) sum += count
  return sum
}

/**
 * The most-run `limit` versions by name (ties by name, so the labels do not flap), the rest
 * summed as `other`. A page that calls its own version "other" is summed with them.
 */
export function boundedVersions(counts: ReadonlyMap<string, number>, limit = MAX_VERSIONS): VersionCounts {
  const sorted = [...counts].sort(([a, m], [b, n]) => n - m || (a < b ? -1 : a > b ? 1 : 0))
  // Object.fromEntries, not assignment: a version may be called "__proto__".
  if (sorted.length <= limit) return Object.fromEntries(sorted)
  const named = sorted.filter(([version]) => version !== OTHER_VERSIONS).slice(0, limit)
  const sum = (entries: [string, number][]) => entries.reduce((total, [, count]) => total + count, 0)
  return Object.fromEntries([...named, [OTHER_VERSIONS, sum(sorted) - sum(named)]])
}

/** Per app, the samples of the last hour. One timer per app instance; `close()` stops it. */
export class VersionSampler {
  readonly #counts: StreamCounts
  /** Apps whose pages were sampled, with when the last open page was seen. */
  readonly #apps = new Map<string, { samples: Sample[]; lastOpen: number }>()
  readonly #known: (app: string) => boolean
  readonly #timer: NodeJS.Timeout

  /** `known`: whether the store has a deploy of the app (its drain is kept for the hour). */
  constructor(counts: StreamCounts, known: (app: string) => boolean = () => true) {
    this.#counts = counts
    this.#known = known
    this.#timer = setInterval(() => this.sample(Date.now()), SAMPLE_INTERVAL_MS).unref()
  }

  /** Whether the app is still sampled. */
  has(app: string): boolean {
    return this.#apps.has(app)
  }

  /** Oldest first. */
  samples(app: string): Sample[] {
    return this.#apps.get(app)?.samples.slice() ?? []
  }

  /**
   * Records every app with open pages, and every app that had some within the window (its
   * zeros draw the drain); an app with none for a whole window is forgotten, one without a
   * deploy after `FORGET_UNKNOWN_APP_MS`.
   */
  sample(now: number): void {
    for (const app of this.#counts.apps()) {
      if (!this.#apps.has(app)) this.#apps.set(app, { samples: [], lastOpen: now })
    }
    for (const [app, entry] of this.#apps) {
      const open = this.#counts.versions(app)
      const versions = boundedVersions(open)
      const { samples } = entry
      const previous = samples.at(-1)?.versions
      // An unchanged count shares its object: a quiet hour costs 360 small records, not 360 maps.
      samples.push({ t: now, versions: previous && sameCounts(previous, versions) ? previous : versions })
      if (total(open) > 0) entry.lastOpen = now
      while (samples.length > MAX_SAMPLES || (samples[0] && samples[0].t <= now - SAMPLE_WINDOW_MS)) samples.shift()
      const keep = this.#known(app) ? SAMPLE_WINDOW_MS : FORGET_UNKNOWN_APP_MS
      if (now - entry.lastOpen >= keep) this.#apps.delete(app)
    }
  }

  close(): void {
    clearInterval(this.#timer)
  }
}

function sameCounts(a: VersionCounts, b: VersionCounts): boolean {
  const keys = Object.keys(a)
  return keys.length === Object.keys(b).length && keys.every((key) => Object.hasOwn(b, key) && a[key] === b[key])
}

/**
 * The body of `GET /status`: every app the store knows or that has open pages, sorted by
 * name. Cheap enough to take every second or two: it reads what the store and the counts keep
 * in memory.
 */
export function statusSnapshot(
  store: Store,
  counts: StreamCounts,
  sampler: VersionSampler,
  now: Date = new Date(),
): Status {
  const names = new Set(store.all().map((deploy) => deploy.app))
  for (const app of counts.apps()) names.add(app)
  const apps = [...names].sort().map((app): [string, AppStatus] => {
    const pages: AppStatus['pages'] = {
      total: total(counts.versions(app)),
      versions: boundedVersions(counts.versions(app)),
    }
    const excess = counts.excess?.(app) ?? 0
    if (excess > 0) pages.excess = excess
    // Claims past an address's bound may be pages of any version: unknown, never zero.
    const reasons = [
      counts.incomplete?.(app),
      excess > 0 ? `${excess} pages claimed past one client address's bound are not counted` : undefined,
    ].filter((reason) => reason !== undefined)
    const complete =
      reasons.length === 0 ? { pagesComplete: true } : { pagesComplete: false, pagesIncomplete: reasons.join('; ') }
    const entry = {
      current: store.current(app) ?? null,
      history: store.history(app),
      pages,
      ...complete,
      streams: pages,
    }
    return [app, { ...entry, samples: sampler.samples(app) }]
  })
  return { apps: Object.fromEntries(apps), time: now.toISOString() }
}
