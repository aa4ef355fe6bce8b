import { readFile } from 'node:fs/promises'
import { brotliCompressSync, gzipSync } from 'node:zlib'
import type { FastifyInstance } from 'fastify'
import { readClientFile } from '../client-files.js'
import { chooseEncoding, type Encoding } from '../encoding.js'
import { ClientNotBuiltError } from '../errors.js'
import { etagOf, matchesEtag } from '../etag.js'

/** One script in each coding, each with its own ETag (a validator per representation). */
type Script = Record<Encoding, { body: Buffer; etag: string }>

const variant = (body: Buffer) => ({ body, etag: etagOf(body) })

/** The script as built, with the brotli and gzip files the build wrote beside it (made here if missing). */
async function readScript(name: string): Promise<Script | undefined> {
  const found = await readClientFile(name)
  if (!found) return undefined
  const read = (file: string) => readFile(new URL(file, found.folder)).catch(() => undefined)
  const [br, gzip] = await Promise.all([read(`${name}.br`), read(`${name}.gz`)])
  return {
    br: variant(br ?? brotliCompressSync(found.body)),
    gzip: variant(gzip ?? gzipSync(found.body, { level: 9 })),
    identity: variant(found.body),
  }
}

/**
 * `GET /client.js`, the browser client as one classic script, and `GET /client-ui.js`, the part
 * it loads once an update is confirmed. Read once at start, pre-compressed: brotli or gzip as
 * the browser accepts (`Vary: Accept-Encoding`), `no-cache` with an ETag per coding, so a page
 * revalidates it (a 304 costs bytes, not a download) and picks up a new client as soon as the
 * sidecar is upgraded.
 */
export async function clientRoutes(app: FastifyInstance): Promise<void> {
  for (const name of ['client.js', 'client-ui.js']) {
    const script = await readScript(name)
    app.get(`/${name}`, (request, reply) => {
      if (!script) throw new ClientNotBuiltError()
      const encoding = chooseEncoding(request.headers['accept-encoding'])
      const { body, etag } = script[encoding]
      reply
        .header('cache-control', 'no-cache')
        .header('vary', 'accept-encoding')
        .header('etag', etag)
        // A script on another origin's page may be loaded with crossorigin for error details.
        .header('cross-origin-resource-policy', 'cross-origin')
      if (encoding !== 'identity') reply.header('content-encoding', encoding)
      if (matchesEtag(request.headers['if-none-match'], etag)) return reply.code(304).send()
      return reply.type('text/javascript; charset=utf-8').send(body)
    })
  }
}
