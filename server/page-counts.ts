import { OTHER_VERSIONS } from '../contract/pages.js'
import type { StreamCounts } from './status.js'

/**
 * How long the pages of a closed stream stay counted when its browser said who it is (`tabs`):
 * long enough for the next tab to take the stream over, or for the same tab to reconnect, so
 * the count never dips while those pages are still open. Under-counting is the failure that
 * matters (`wait-drained` would say "drained" too early); a few seconds more is harmless.
 */
export const LINGER_MS = 5000
/**
 * Distinct versions counted by name per app; a stream's pages of any further version are
 * counted as `other`. Any page can claim any version: this bounds the memory and the work of
 * every `/status`, sample and scrape whatever the clients send.
 */
export const MAX_TRACKED_VERSIONS = 100
/** Pages one client address may claim, per stream it may hold (`MAX_STREAMS_PER_ADDRESS`). */
export const PAGES_PER_ADDRESS_STREAM = 10

/** What one stream counts: its pages by version, until it closes (and lingers). */
interface Entry {
  app: string
  from: AddressPages
  /** The pages counted, by the version they are counted under. */
  counted: ReadonlyMap<string, number>
  /** The pages claimed past its address's bound: reported apart, never counted as pages. */
  excess: number
  state: 'open' | 'lingering' | 'gone'
  timer?: NodeJS.Timeout
}

/** The pages counted for one client address: one record shared by its streams. */
interface AddressPages {
  readonly address: string
  pages: number
}

/** One app's open pages by version, and the pages claimed past an address's bound. */
interface AppCounts {
  versions: Map<string, number>
  excess: number
}

/**
 * Open pages by app and running version on this process. Each stream counts the pages its
 * browser said it has (the tab holding it and the tabs it relays for), or one page of its own
 * `version` when it said none (an older client). A stream with a `tabs` id takes over from the
 * last stream of the same app with that id once that one has closed (the browser reopens it
 * when its count changes), which lingers until then. The pages one client address claims are
 * counted up to a bound; what is claimed past it is reported apart (`excess`).
 */
export class PageCounts implements StreamCounts {
  readonly #apps = new Map<string, AppCounts>()
  /** The last stream of each app and `tabs` id. */
  readonly #byTabs = new Map<string, Entry>()
  /** Pages counted per client address. */
  readonly #byAddress = new Map<string, AddressPages>()
  readonly #pagesPerAddress: number

  constructor({ pagesPerAddress = Infinity }: { pagesPerAddress?: number } = {}) {
    this.#pagesPerAddress = pagesPerAddress
  }

  apps(): IterableIterator<string> {
    return this.#apps.keys()
  }

  has(app: string): boolean {
    return this.#apps.has(app)
  }

  versions(app: string): ReadonlyMap<string, number> {
    return this.#apps.get(app)?.versions ?? new Map<string, number>()
  }

  /** Pages of the app claimed past their address's bound (open streams only). */
  excess(app: string): number {
    return this.#apps.get(app)?.excess ?? 0
  }

  /**
   * Counts the pages of a stream that just opened; returns what to call when it closes. A
   * stream with the `tabs` id of an earlier, closed one of the same app replaces its count.
   */
  open(app: string, pages: ReadonlyMap<string, number>, { tabs, address = '' }: Claimant = {}): () => void {
    const entry = this.#count(app, address, pages)
    // Scoped to the app: the same id on another app's stream is another browser's business.
    const key = tabs === undefined ? undefined : `${app}\n${tabs}`
    if (key !== undefined) {
      // An open stream keeps its count until it closes, whoever else claims its id.
      const previous = this.#byTabs.get(key)
      if (previous?.state === 'lingering') this.#forget(previous)
      this.#byTabs.set(key, entry)
    }
    return () => {
      if (entry.state !== 'open') return
      // Another stream took the id over while this one was open: that one counts the pages now.
      if (key === undefined || this.#byTabs.get(key) !== entry) return this.#forget(entry)
      entry.state = 'lingering'
      entry.timer = setTimeout(() => {
        this.#forget(entry)
        if (this.#byTabs.get(key) === entry) this.#byTabs.delete(key)
      }, LINGER_MS).unref()
    }
  }

  /** Stops every lingering timer. */
  close(): void {
    for (const entry of this.#byTabs.values()) clearTimeout(entry.timer)
  }

  /** Counts a stream's pages within its address's bound and its app's tracked versions. */
  #count(app: string, address: string, pages: ReadonlyMap<string, number>): Entry {
    let counts = this.#apps.get(app)
    if (!counts) this.#apps.set(app, (counts = { versions: new Map(), excess: 0 }))
    const from = this.#byAddress.get(address) ?? { address, pages: 0 }
    let room = Math.max(0, this.#pagesPerAddress - from.pages)
    const kept: [string, number][] = []
    let asClaimed = true
    let excess = 0
    for (const [version, claimed] of pages) {
      const n = Math.min(claimed, room)
      const as = counts.versions.has(version) || counts.versions.size < MAX_TRACKED_VERSIONS ? version : OTHER_VERSIONS
      room -= n
      excess += claimed - n
      if (n !== claimed || as !== version) asClaimed = false
      if (n === 0) continue
      kept.push([as, n])
      counts.versions.set(as, (counts.versions.get(as) ?? 0) + n)
      from.pages += n
    }
    counts.excess += excess
    if (from.pages > 0) this.#byAddress.set(address, from)
    // Usually every page is counted as claimed, and the claim's own map is kept.
    let counted = pages
    if (!asClaimed) {
      const differs = new Map<string, number>()
      for (const [as, n] of kept) differs.set(as, (differs.get(as) ?? 0) + n)
      counted = differs
    }
    return { app, from, counted, excess, state: 'open' }
  }

  #forget(entry: Entry): void {
    if (entry.state === 'gone') return
    clearTimeout(entry.timer)
    entry.state = 'gone'
    const counts = this.#apps.get(entry.app)
    if (!counts) return
    for (const [version, n] of entry.counted) {
      const left = (counts.versions.get(version) ?? 0) - n
      if (left > 0) counts.versions.set(version, left)
      else counts.versions.delete(version)
    }
    counts.excess -= entry.excess
    if (counts.versions.size === 0 && counts.excess === 0) this.#apps.delete(entry.app)
    const { from } = entry
    from.pages -= sum(entry.counted)
    if (from.pages <= 0 && this.#byAddress.get(from.address) === from) this.#byAddress.delete(from.address)
  }
}

/** Who opened a stream: the id its browser's tabs share, and its client address. */
export interface Claimant {
  tabs?: string | undefined
  address?: string
}

function sum(counts: ReadonlyMap<string, number>): number {
  let total = 0
  for (const n of counts.values()) total += n
  return total
}
