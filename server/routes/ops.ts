import type { FastifyInstance } from 'fastify'
import type { Metrics } from '../metrics.js'
import type { Store } from '../store/store.js'

/** What operators and load balancers ask: `/healthz` and `/metrics`. */
export async function opsRoutes(
  app: FastifyInstance,
  { metrics, store }: { metrics: Metrics; store: Store },
): Promise<void> {
  // Unhealthy while Redis is away, so a load balancer moves traffic to replicas that can notify.
  app.get('/healthz', (_request, reply) => {
    reply.header('cache-control', 'no-store')
    if (store.connected()) return reply.send({ status: 'ok' })
    return reply.code(503).send({ status: 'unavailable', message: 'the store (Redis) is not connected' })
  })

  app.get('/metrics', async (_request, reply) => {
    reply.type(metrics.registry.contentType)
    return metrics.registry.metrics()
  })
}
