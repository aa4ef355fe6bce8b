import type { StreamCounts } from './status.js'

/**
 * How long the pages of a closed stream stay counted when its browser said who it is (`tabs`):
 * long enough for the next tab to take the stream over, or for the same tab to reconnect, so
 * the count never dips while those pages are still open. Under-counting is the failure that
 * matters (`wait-drained` would say "drained" too early); a few seconds more is harmless.
 */
export const LINGER_MS = 5000

/** What one stream counts: its pages by version, until it closes (and lingers). */
interface Entry {
  app: string
  pages: ReadonlyMap<string, number>
  state: 'open' | 'lingering' | 'gone'
  timer?: NodeJS.Timeout
}

/**
 * Open pages by app and running version on this process. Each stream counts the pages its
 * browser said it has (the tab holding it and the tabs it relays for), or one page of its own
 * `version` when it said none (an older client). A stream with a `tabs` id is replaced by the
 * next stream with the same id (the browser reopens it when its count changes), and lingers
 * after it closes until then.
 */
export class PageCounts implements StreamCounts {
  readonly #apps = new Map<string, Map<string, number>>()
  readonly #byTabs = new Map<string, Entry>()

  apps(): IterableIterator<string> {
    return this.#apps.keys()
  }

  versions(app: string): ReadonlyMap<string, number> {
    return this.#apps.get(app) ?? new Map<string, number>()
  }

  /**
   * Counts the pages of a stream that just opened; returns what to call when it closes. A
   * stream with the `tabs` id of an earlier one (a reconnect, a new leader tab) replaces it.
   */
  open(app: string, pages: ReadonlyMap<string, number>, tabs?: string): () => void {
    const entry: Entry = { app, pages, state: 'open' }
    if (tabs !== undefined) {
      const previous = this.#byTabs.get(tabs)
      if (previous) this.#forget(previous)
      this.#byTabs.set(tabs, entry)
    }
    this.#add(app, pages, 1)
    return () => {
      if (entry.state !== 'open') return
      if (tabs === undefined) return this.#forget(entry)
      entry.state = 'lingering'
      entry.timer = setTimeout(() => {
        this.#forget(entry)
        if (this.#byTabs.get(tabs) === entry) this.#byTabs.delete(tabs)
      }, LINGER_MS).unref()
    }
  }

  /** Stops every lingering timer. */
  close(): void {
    for (const entry of this.#byTabs.values()) clearTimeout(entry.timer)
  }

  #forget(entry: Entry): void {
    if (entry.state === 'gone') return
    clearTimeout(entry.timer)
    entry.state = 'gone'
    this.#add(entry.app, entry.pages, -1)
  }

  #add(app: string, pages: ReadonlyMap<string, number>, sign: 1 | -1): void {
    let counts = this.#apps.get(app)
    if (!counts) this.#apps.set(app, (counts = new Map<string, number>()))
    for (const [version, n] of pages) {
      const left = (counts.get(version) ?? 0) + sign * n
      if (left > 0) counts.set(version, left)
      else counts.delete(version)
    }
    if (counts.size === 0) this.#apps.delete(app)
  }
}
