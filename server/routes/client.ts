import { readFile } from 'node:fs/promises'
import type { FastifyInstance } from 'fastify'
import { ClientNotBuiltError } from '../errors.js'
import { etagOf, matchesEtag } from '../etag.js'

/**
 * The built browser files the sidecar serves: the classic script every page loads, and the apply
 * part it imports on demand (an ES module; CORS from the app's origin covers it, as for streams).
 */
const FILES = ['client.js', 'apply.js'] as const

/**
 * Where a built file is: `dist/client/NAME`, seen from `dist/server/routes/` when running the
 * build, or from `server/routes/` when tests run the sources.
 */
async function readBuilt(name: string): Promise<Buffer | undefined> {
  for (const url of [
    new URL(`../../client/${name}`, import.meta.url),
    new URL(`../../dist/client/${name}`, import.meta.url),
  ]) {
    const script = await readFile(url).catch(() => undefined)
    if (script) return script
  }
  return undefined
}

/**
 * `GET /client.js` (the browser client as one classic script) and `GET /apply.js`. Read once at
 * start; `no-cache` with an ETag, so a page revalidates them (a 304 costs bytes, not a download)
 * and picks up a new client as soon as the sidecar is upgraded.
 */
export async function clientRoutes(app: FastifyInstance): Promise<void> {
  for (const name of FILES) {
    const script = await readBuilt(name)
    const etag = script && etagOf(script)

    app.get(`/${name}`, (request, reply) => {
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
}
