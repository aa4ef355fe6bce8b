import { OTHER_VERSIONS } from '../contract/pages.js'
import type { AppStatus, Sample, Status, VersionCounts } from '../contract/status.js'
import type { Store, StreamCounts } from './store/store.js'

/**
 * Distinct versions counted by name per app, in `/status`, its samples and the metrics; the
 * rest are summed as `other`. Any page can claim any version, so without a cap a buggy or
 * hostile client would grow every sample and every scrape.
 */
export const MAX_VERSIONS = 20
export { OTHER_VERSIONS }

/** How often the sampler records each app's open pages by version, and for how long. */
export const SAMPLE_INTERVAL_MS = 10_000
export const SAMPLE_WINDOW_MS = 60 * 60_000
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
  readonly #timer: NodeJS.Timeout

  constructor(counts: StreamCounts) {
    this.#counts = counts
    this.#timer = setInterval(() => this.sample(Date.now()), SAMPLE_INTERVAL_MS).unref()
  }

  /** Oldest first. */
  samples(app: string): Sample[] {
    return this.#apps.get(app)?.samples.slice() ?? []
  }

  /**
   * Records every app with open pages, and every app that had some within the window (its
   * zeros draw the drain); an app with none for a whole window is forgotten.
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
      if (now - entry.lastOpen >= SAMPLE_WINDOW_MS) this.#apps.delete(app)
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
    const pages = { total: total(counts.versions(app)), versions: boundedVersions(counts.versions(app)) }
    const incomplete = counts.incomplete?.(app)
    const complete =
      incomplete === undefined ? { pagesComplete: true } : { pagesComplete: false, pagesIncomplete: incomplete }
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
