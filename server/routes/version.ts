import { createHash } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { appSchema, DEFAULT_APP, type Deploy } from '../deploy.js'
import { NoVersionError } from '../errors.js'
import type { Store } from '../store/store.js'

/** `GET /version`: the current deploy, for polling clients and for checks after a chunk fails. */
export async function versionRoutes(app: FastifyInstance, { store }: { store: Store }): Promise<void> {
  const bodies = new WeakMap<Deploy, { json: string; etag: string }>()
  const body = (deploy: Deploy) => {
    let cached = bodies.get(deploy)
    if (!cached) {
      const json = JSON.stringify(deploy)
      const etag = `"${createHash('sha256').update(json).digest('base64url').slice(0, 22)}"`
      bodies.set(deploy, (cached = { json, etag }))
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
      if (matches(request.headers['if-none-match'], etag)) return reply.code(304).send()
      return reply.type('application/json; charset=utf-8').send(json)
    },
  )
}

/** `If-None-Match` may list several tags, weak or strong, or `*` (RFC 9110 13.1.2). */
function matches(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false
  return header.split(',').some((tag) => {
    const t = tag.trim()
    return t === '*' || t === etag || t === `W/${etag}`
  })
}
