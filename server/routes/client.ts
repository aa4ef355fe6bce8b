import { readFile } from 'node:fs/promises'
import type { FastifyInstance } from 'fastify'
import { ClientNotBuiltError } from '../errors.js'
import { etagOf, matchesEtag } from '../etag.js'

/**
 * Where the built classic script is: `dist/client/client.js`, seen from `dist/server/routes/`
 * when running the build, or from `server/routes/` when tests run the sources.
 */
const candidates = [
  new URL('../../client/client.js', import.meta.url),
  new URL('../../dist/client/client.js', import.meta.url),
]

async function readClient(): Promise<Buffer | undefined> {
  for (const url of candidates) {
    const script = await readFile(url).catch(() => undefined)
    if (script) return script
  }
  return undefined
}

/**
 * `GET /client.js`: the browser client as one classic script. Read once at start; `no-cache`
 * with an ETag, so a page revalidates it (a 304 costs bytes, not a download) and picks up a
 * new client as soon as the sidecar is upgraded.
 */
export async function clientRoutes(app: FastifyInstance): Promise<void> {
  const script = await readClient()
  const etag = script && etagOf(script)

  app.get('/client.js', (request, reply) => {
    if (!script || !etag) throw new ClientNotBuiltError()
    reply
      .header('cache-control', 'no-cache')
      .header('etag', etag)
      // A script on another origin's page may be loaded with crossorigin for error details.
      .header('cross-origin-resource-policy', 'cross-origin')
    if (matchesEtag(request.headers['if-none-match'], etag)) return reply.code(304).send()
    return reply.type('text/javascript; charset=utf-8').send(script)
  })
}
