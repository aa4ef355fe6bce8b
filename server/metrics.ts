import { Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { Deploy } from '../contract/deploy.js'
import type { Hub } from './hub.js'
import type { Store } from './store/store.js'
import { OTHER_VERSIONS } from '../contract/pages.js'
import { boundedVersions, MAX_VERSIONS, type StreamCounts } from './status.js'

export interface Metrics {
  registry: Registry
  /** Counts a deploy, times its broadcast, and how long it took to get here from where it was accepted. */
  recordBroadcast(deploy: Deploy, seconds: number): void
}

/**
 * The Prometheus metrics of one sidecar. A registry per app instance (not prom-client's global
 * one), so tests can build several apps in one process.
 */
export function createMetrics(hub: Hub, pages: StreamCounts, store: Store): Metrics {
  const registry = new Registry()
  new Gauge({
    name: 'deploy_notify_connections',
    help: `Open pages on this process, per app and running version, every tab counted, also tabs that share one stream (at most ${MAX_VERSIONS} versions per app, the rest as "${OTHER_VERSIONS}").`,
    labelNames: ['app', 'version'],
    registers: [registry],
    collect() {
      // Reset first: a version with no open page loses its series instead of showing 0 forever.
      this.reset()
      for (const app of pages.apps()) {
        for (const [version, count] of Object.entries(boundedVersions(pages.versions(app))))
          this.set({ app, version }, count)
      }
    },
  })
  new Gauge({
    name: 'deploy_notify_streams',
    help: 'Open event streams on this process, per app: one per browser, however many of its pages are open.',
    labelNames: ['app'],
    registers: [registry],
    collect() {
      this.reset()
      for (const app of hub.apps()) this.set({ app }, hub.connections(app))
    },
  })
  new Counter({
    name: 'deploy_notify_dropped_streams_total',
    help: 'Streams closed because the client stopped reading.',
    registers: [registry],
    collect() {
      this.reset()
      this.inc(hub.dropped)
    },
  })
  const deploys = new Counter({
    name: 'deploy_notify_deploys_total',
    help: 'Deploys broadcast by this process, per app.',
    labelNames: ['app'],
    registers: [registry],
  })
  const broadcastSeconds = new Histogram({
    name: 'deploy_notify_broadcast_duration_seconds',
    help: 'Time to write one deploy to every open stream of its app.',
    buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [registry],
  })
  new Gauge({
    name: 'deploy_notify_store_up',
    help: 'Whether the store can take a notify: 1, or 0 while Redis is not connected or the state file cannot be written.',
    registers: [registry],
    collect() {
      this.set(store.problem() === undefined ? 1 : 0)
    },
  })
  new Counter({
    name: 'deploy_notify_store_rejected_total',
    help: 'Records read from the store (a Redis message or key) that were not valid deploys and were ignored.',
    registers: [registry],
    collect() {
      this.reset()
      this.inc(store.rejected)
    },
  })
  const fanoutLag = new Histogram({
    name: 'deploy_notify_fanout_lag_seconds',
    help: 'From the notify being accepted (on any replica) to its broadcast on this one.',
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
    registers: [registry],
  })
  return {
    registry,
    recordBroadcast(deploy, seconds) {
      deploys.inc({ app: deploy.app })
      broadcastSeconds.observe(seconds)
      // A replica's clock may run behind the accepting one's: never a negative lag.
      fanoutLag.observe(Math.max(0, Date.now() - Date.parse(deploy.time)) / 1000)
    },
  }
}
