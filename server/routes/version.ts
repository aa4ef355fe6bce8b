import type { FastifyInstance } from 'fastify'
import { DEFAULT_APP, type Deploy } from '../../contract/deploy.js'
import { appSchema } from '../../contract/fields.js'
import { NoVersionError } from '../errors.js'
import { etagOf, matchesEtag } from '../etag.js'
import type { Store } from '../store/store.js'

/** `GET /version`: the current deploy, for polling clients and for checks after a chunk fails. */
export async function versionRoutes(app: FastifyInstance, { store }: { store: Store }): Promise<void> {
  const bodies = new WeakMap<Deploy, { json: string; etag: string }>()
  const body = (deploy: Deploy) => {
    let cached = bodies.get(deploy)
    if (!cached) {
      const json = JSON.stringify(deploy)
      bodies.set(deploy, (cached = { json, etag: etagOf(json) }))
    }
    return cached
  }

  app.get<{ Querystring: { app?: string } }>(
    '/version',
    { schema: { querystring: { type: 'object', properties: { app: appSchema } } } },
    (request, reply) => {
      const appName = request.query.app ?? DEFAULT_APP
      const current = store.current(appName)
      if (!current) throw new NoVersionError(appName)
      const { json, etag } = body(current)
      reply.header('cache-control', 'no-cache').header('etag', etag)
      if (matchesEtag(request.headers['if-none-match'], etag)) return reply.code(304).send()
      return reply.type('application/json; charset=utf-8').send(json)
    },
  )
}
