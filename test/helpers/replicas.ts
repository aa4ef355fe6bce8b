import { join } from 'node:path'
import { getJson } from './http.js'
import { spawnSidecar, type SidecarProcess } from './process.js'
import { TOKEN } from './sidecar.js'
import { Subscriber } from './stream.js'

/** A stream on one replica, and every `error` its EventSource fired (each one is a reconnect). */
export type WatchedStream = Subscriber & { errors: unknown[] }

/**
 * Sidecar replicas as production runs them: each its own `deploy-notify serve` process with
 * REDIS_URL, plus the streams the test opened on them. `stop()` closes the streams and kills
 * every replica still running, whatever the test left behind.
 */
export class Replicas {
  readonly #running: SidecarProcess[] = []
  readonly #streams: Subscriber[] = []

  /** The DATA_DIR every replica gets: inside `scratch`, never created by a replica with REDIS_URL. */
  readonly dataDir: string

  constructor(scratch: string) {
    this.dataDir = join(scratch, 'never-used')
  }

  /** `redis`: a REDIS_URL, or the Redis settings by name (`{ REDIS_CLUSTER_NODES: ... }`). */
  async start(redis: string | Record<string, string>, env: Record<string, string> = {}): Promise<SidecarProcess> {
    const replica = await spawnSidecar({
      ...(typeof redis === 'string' ? { REDIS_URL: redis } : redis),
      NOTIFY_TOKEN: TOKEN,
      DATA_DIR: this.dataDir,
      // Streams that lose their replica come back within the test's patience.
      RETRY_MS: '100',
      ...env,
    })
    this.#running.push(replica)
    return replica
  }

  /** Opens a stream on `baseUrl` (a replica or a proxy in front of them) and watches its errors. */
  async open(baseUrl: string, app: string, version?: string): Promise<WatchedStream> {
    const subscriber = await Subscriber.open(baseUrl, version === undefined ? { app } : { app, version })
    this.#streams.push(subscriber)
    const errors: unknown[] = []
    subscriber.source.addEventListener('error', (event) => errors.push(event))
    return Object.assign(subscriber, { errors })
  }

  async stop(): Promise<void> {
    for (const stream of this.#streams.splice(0)) stream.close()
    await Promise.all(
      this.#running.splice(0).map(async (replica) => {
        if (replica.child.exitCode === null && replica.child.signalCode === null) replica.child.kill('SIGKILL')
        await replica.exited.catch(() => undefined)
      }),
    )
  }
}

/** The versions of the `deploy` events a stream received, in order. */
export const deploysOf = (stream: Subscriber): string[] =>
  stream.received.filter((event) => event.type === 'deploy').map((event) => event.data.version)

/** The status `/healthz` answers. */
export const health = async (replica: SidecarProcess): Promise<number> =>
  (await getJson(`${replica.url}/healthz`)).status
