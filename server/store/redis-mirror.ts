import type { Deploy } from '../../contract/deploy.js'
import type { RedisClient } from './redis-connection.js'
import type { RedisKeys } from './redis-keys.js'
import { HISTORY_LENGTH, withDeploy } from './store.js'
import { storedDeploy } from './stored-deploy.js'

/** At most one log line per this long about records that were ignored, with how many. */
const REJECTED_LOG_MS = 10_000

type Log = { warn(msg: string): void }

/**
 * A replica's copy of what Redis holds, kept by the subscription and by re-reads, and served
 * to readers. Everything that comes from Redis is parsed and checked by the field rules first:
 * a message or key that is not a valid deploy (`PUBLISH deploy-notify:deploys 'not json'`, a
 * foreign app writing to the channel, an id with a newline) is ignored, counted and logged at
 * most once per `REJECTED_LOG_MS`. A message is only a hint: what it names is taken once Redis
 * is seen to store it, so a stray PUBLISH of a valid-looking deploy announces nothing (and is
 * never put back into Redis as state after a loss). Ids never go backwards here (see `accept`).
 */
export class RedisMirror {
  readonly current = new Map<string, Deploy>()
  readonly histories = new Map<string, Deploy[]>()
  readonly listeners: ((deploy: Deploy) => void)[] = []
  rejected = 0
  readonly #redis: RedisClient
  readonly #keys: RedisKeys
  readonly #log: Log
  readonly #missed: () => void
  #unlogged = 0
  #lastLog = 0
  /** Messages are checked one after the other, so they are taken in the order they came. */
  #checks: Promise<void> = Promise.resolve()

  /** `missed` is called when a message could not be checked (Redis away): a gap for a re-read. */
  constructor(redis: RedisClient, keys: RedisKeys, log: Log, missed: () => void) {
    this.#redis = redis
    this.#keys = keys
    this.#log = log
    this.#missed = missed
  }

  /** A message on the channel: the raw text, as published. */
  take(message: string): void {
    const deploy = this.#parse(message, 'a message on the channel')
    if (!deploy) return
    const known = this.current.get(deploy.app)
    // This replica's own publish coming back, or a deploy a re-read brought first: nothing new.
    if (known && Number(deploy.id) <= Number(known.id) && deploy.time <= known.time) return
    this.#checks = this.#checks.then(() => this.#check(message, deploy))
  }

  /**
   * Takes a deploy this replica has just stored, once the messages that came before are
   * checked: their deploys (lower ids, from other replicas) are broadcast first, not skipped.
   */
  acceptStored(deploy: Deploy): Promise<void> {
    const accepted = this.#checks.then(() => this.accept(deploy))
    this.#checks = accepted
    return accepted
  }

  /**
   * Takes a message's deploy if Redis holds it (as the app's state, or in its history, for
   * deploys that came in quick succession); else takes what Redis holds instead, if newer.
   */
  async #check(message: string, deploy: Deploy): Promise<void> {
    let state: string | null
    let history: string[]
    try {
      ;[state, history] = await Promise.all([
        this.#redis.get(this.#keys.state(deploy.app)),
        this.#redis.lrange(this.#keys.history(deploy.app), 0, HISTORY_LENGTH - 1),
      ])
    } catch {
      return this.#missed()
    }
    if (state === message || history.includes(message)) return this.accept(deploy, undefined, message)
    this.#reject('a message on the channel', `Redis does not store it as a deploy of app "${deploy.app}"`)
    const stored = state === null ? undefined : this.#parse(state, `the key ${this.#keys.state(deploy.app)}`)
    if (stored?.app === deploy.app) this.accept(stored, undefined, state!)
  }

  /**
   * Takes a deploy into the mirror and tells the listeners, if its id is above the one held
   * (a re-read may cross a published message, and a replica's own publish comes back). A
   * different deploy with a lower or equal id but a later time means Redis lost its data and
   * another replica counted from 1 again: it is not broadcast as it is, but stored again under
   * the id after this replica's (`renumber`), and that one comes back through the channel.
   */
  accept(deploy: Deploy, history?: Deploy[], raw?: string): void {
    const known = this.current.get(deploy.app)
    if (known && Number(deploy.id) <= Number(known.id)) {
      if (raw !== undefined && deploy.time > known.time) this.#renumber(raw, deploy, known)
      return
    }
    this.current.set(deploy.app, deploy)
    this.histories.set(deploy.app, history ?? withDeploy(this.histories.get(deploy.app) ?? [], deploy))
    for (const listener of this.listeners) listener(deploy)
  }

  /**
   * Reads every app's state: at start, and after a cut-off in which changes may have been
   * missed, which are then told in order (from the history, up to `HISTORY_LENGTH`).
   */
  async resync(): Promise<void> {
    for (const app of await this.#redis.smembers(this.#keys.apps)) await this.catchUp(app)
  }

  /**
   * Reads one app's state and history, and takes the deploys this replica missed while it
   * could not hear (a failover, a cut) oldest first: every open stream gets each one, as if it
   * had heard it. An app it did not know yet only gets its current deploy.
   */
  async catchUp(app: string): Promise<void> {
    const keys = this.#keys
    const [state, history] = await Promise.all([
      this.#redis.get(keys.state(app)),
      this.#redis.lrange(keys.history(app), 0, HISTORY_LENGTH - 1),
    ])
    const deploy = state === null ? undefined : this.#parse(state, `the key ${keys.state(app)}`)
    if (!deploy || deploy.app !== app) return
    const deploys = history.flatMap((item) => this.#parse(item, `the list ${keys.history(app)}`) ?? [])
    const full = deploys[0]?.id === deploy.id ? deploys : withDeploy(deploys, deploy)
    const known = Number(this.current.get(app)?.id ?? Infinity)
    for (const missed of full.filter((d) => d.app === app && Number(d.id) > known).reverse()) {
      if (missed.id !== deploy.id) this.accept(missed)
    }
    this.accept(deploy, full)
  }

  /**
   * Puts back the apps Redis no longer has (it restarted without persistence, or was flushed)
   * from this copy, so ids go on from here. Cheap when nothing was lost: one SCARD.
   */
  async restoreIfLost(): Promise<number> {
    const keys = this.#keys
    if ((await this.#redis.scard(keys.apps)) >= this.current.size) return 0
    let restored = 0
    for (const [app, deploy] of this.current) {
      const history = (this.histories.get(app) ?? [deploy]).map((item) => JSON.stringify(item))
      const names = [keys.state(app), keys.history(app), keys.apps]
      const args = [JSON.stringify(deploy), deploy.id, app, keys.channel, ...history]
      restored += Number(await this.#redis.eval(keys.restore, names.length, ...names, ...args))
    }
    if (restored > 0) this.#log.warn(`Redis had lost the state of ${restored} app(s); restored it from this replica`)
    return restored
  }

  #renumber(raw: string, deploy: Deploy, known: Deploy): void {
    const renumbered = JSON.stringify({ ...deploy, id: String(Number(known.id) + 1) })
    const keys = this.#keys
    const names = [keys.state(deploy.app), keys.history(deploy.app), keys.apps]
    const args = [raw, renumbered, HISTORY_LENGTH, deploy.app, keys.channel, '1']
    // Another replica may win the compare-and-set; its renumbered deploy comes back here too.
    this.#redis.eval(keys.compareAndPublish, names.length, ...names, ...args).catch((error: Error) => {
      this.#log.warn(`cannot renumber deploy ${deploy.id} of app "${deploy.app}" in Redis: ${error.message}`)
    })
  }

  #parse(text: string, where: string): Deploy | undefined {
    let value: unknown
    try {
      value = JSON.parse(text)
    } catch {
      return this.#reject(where, 'not JSON')
    }
    const deploy = storedDeploy(value)
    return typeof deploy === 'string' ? this.#reject(where, deploy) : deploy
  }

  #reject(where: string, why: string): undefined {
    this.rejected++
    this.#unlogged++
    const now = Date.now()
    if (now - this.#lastLog >= REJECTED_LOG_MS) {
      const more = this.#unlogged > 1 ? ` (${this.#unlogged - 1} more since the last line)` : ''
      this.#log.warn(`ignored ${where} that is not a valid deploy: ${why}${more}`)
      this.#lastLog = now
      this.#unlogged = 0
    }
    return undefined
  }
}
