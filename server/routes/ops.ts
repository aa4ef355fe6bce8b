import type { FastifyInstance } from 'fastify'
import type { Metrics } from '../metrics.js'

/** What operators and load balancers ask: `/healthz` and `/metrics`. */
export async function opsRoutes(app: FastifyInstance, { metrics }: { metrics: Metrics }): Promise<void> {
  app.get('/healthz', (_request, reply) => {
    reply.header('cache-control', 'no-store').send({ status: 'ok' })
  })

  app.get('/metrics', async (_request, reply) => {
    reply.type(metrics.registry.contentType)
    return metrics.registry.metrics()
  })
}
