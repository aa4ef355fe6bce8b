import type { FastifyInstance } from 'fastify'
import type { Metrics } from '../metrics.js'
import type { Store } from '../store/store.js'

/** What operators and load balancers ask: `/healthz` and `/metrics`. */
export async function opsRoutes(
  app: FastifyInstance,
  { metrics, store }: { metrics: Metrics; store: Store },
): Promise<void> {
  // Unhealthy while Redis is away or the state file cannot be written, so a load balancer moves
  // traffic to replicas that can notify. The 503 body is an error like any other, plus status.
  app.get('/healthz', (_request, reply) => {
    reply.header('cache-control', 'no-store')
    const problem = store.problem()
    if (problem === undefined) return reply.send({ status: 'ok' })
    return reply.code(503).send({ status: 'unavailable', error: 'DN_ERR_STORE_UNAVAILABLE', message: problem })
  })

  app.get('/metrics', async (_request, reply) => {
    reply.type(metrics.registry.contentType)
    return metrics.registry.metrics()
  })
}
