/**
 * Apps without a deploy that streams may follow at once on one process. Any page can name any
 * app, and every name costs counts and samples: past this many, a stream of yet another app
 * without a deploy is refused until one is forgotten (`FORGET_UNKNOWN_APP_MS` after its last
 * page). Apps the store knows (they have a deploy) are always admitted.
 */
export const MAX_OTHER_APPS = 1000

/** The app names this process tracks: the store's, and a bounded number of others. */
export class AppNames {
  readonly #others = new Set<string>()
  readonly #known: (app: string) => boolean
  readonly #inUse: (app: string) => boolean
  readonly #limit: number

  /**
   * `known`: the store has a deploy of the app. `inUse`: something still holds the app (open
   * pages, samples), so its name cannot be given to another yet.
   */
  constructor(known: (app: string) => boolean, inUse: (app: string) => boolean, limit = MAX_OTHER_APPS) {
    this.#known = known
    this.#inUse = inUse
    this.#limit = limit
  }

  get limit(): number {
    return this.#limit
  }

  /** Whether a stream of this app may open: a known app, one already tracked, or room for another. */
  admit(app: string): boolean {
    if (this.#others.has(app) || this.#known(app)) return true
    if (this.#others.size >= this.#limit) this.#sweep()
    if (this.#others.size >= this.#limit) return false
    this.#others.add(app)
    return true
  }

  /** Lets go of the names nothing holds anymore, or that the store now knows. */
  #sweep(): void {
    for (const app of this.#others) if (this.#known(app) || !this.#inUse(app)) this.#others.delete(app)
  }
}
