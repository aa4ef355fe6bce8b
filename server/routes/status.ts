import type { FastifyInstance } from 'fastify'
import { statusSnapshot, type StreamCounts, type VersionSampler } from '../status.js'
import type { Store } from '../store/store.js'

/**
 * `GET /status`: each app's current deploy, recent deploys and open streams by running version,
 * with the last hour of samples. Counts only, so it needs no token, like `/version`.
 */
export async function statusRoutes(
  app: FastifyInstance,
  { store, counts, sampler }: { store: Store; counts: StreamCounts; sampler: VersionSampler },
): Promise<void> {
  app.get('/status', (_request, reply) => {
    // Counts change every second; a cached answer would show pages that are long gone.
    reply.header('cache-control', 'no-store').send(statusSnapshot(store, counts, sampler))
  })
}
