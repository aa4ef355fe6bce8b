import { readdir, readFile } from 'node:fs/promises'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach } from 'vitest'

/** The client's script tag, as an app's build stamps it into index.html. */
export interface ClientTag {
  /** Where the classic script is loaded from, e.g. `${sidecar.url}/client.js`. */
  src: string
  version: string
  app?: string
  pollInterval?: number
  ui?: 'banner' | 'none'
  /** The sidecar's base URL; without it the client derives it from `src`. */
  url?: string
  /** `data-apply`: `auto` reloads by itself at a safe moment. */
  apply?: 'prompt' | 'auto'
  /** `data-apply-idle`, `data-apply-spread`, `data-apply-countdown`, in ms. */
  applyIdle?: number
  applySpread?: number
  applyCountdown?: number
}

/**
 * The client tags of one test file: the sidecar's `client.js` for `app` at `version`, with the
 * file's `defaults` (an apply mode, short delays) and a test's own `extra`.
 */
export const clientTags =
  (sidecarUrl: () => string, defaults: Partial<ClientTag> = {}) =>
  (app: string, version: string, extra: Partial<ClientTag> = {}): ClientTag => ({
    src: `${sidecarUrl()}/client.js`,
    version,
    app,
    ...defaults,
    ...extra,
  })

/** A form the app saves without leaving the page, as single-page apps do: the body gets `data-saved="yes"`. */
export const DRAFT_FORM = `<form id="draft"><input name="title" aria-label="Title"><button>Save</button></form>
<script>document.getElementById('draft').addEventListener('submit', (e) => { e.preventDefault(); document.body.dataset.saved = 'yes' })</script>`

const escapeAttribute = (value: string): string =>
  value.replaceAll('&', '&amp;').replaceAll('"', '&quot;').replaceAll('<', '&lt;')

export function clientTag(tag: ClientTag): string {
  const { src, version, app, pollInterval, ui, url } = tag
  const attributes: [string, string | number | undefined][] = [
    ['src', src],
    ['data-version', version],
    ['data-app', app],
    ['data-poll-interval', pollInterval],
    ['data-ui', ui],
    ['data-url', url],
    ['data-apply', tag.apply],
    ['data-apply-idle', tag.applyIdle],
    ['data-apply-spread', tag.applySpread],
    ['data-apply-countdown', tag.applyCountdown],
  ]
  const written = attributes
    .filter(([, value]) => value !== undefined)
    .map(([name, value]) => `${name}="${escapeAttribute(String(value))}"`)
  return `<script ${written.join(' ')} defer></script>`
}

export interface PageOptions {
  /** The client's script tag; leave out for a page that uses the module instead. */
  client?: ClientTag
  /** The release the page is, for its title and heading (default: the client tag's). */
  version?: string
  /** `<html lang>`: picks the banner's language. */
  lang?: string
  /** Markup (and scripts) of the app itself, after the client tag. */
  body?: string
}

/** The index.html of a built single-page app that loads the client. */
export function appPage({
  client,
  version = client?.version ?? 'unknown',
  lang = 'en',
  body = '',
}: PageOptions): string {
  return `<!doctype html>
<html lang="${escapeAttribute(lang)}">
<head><meta charset="utf-8"><title>app ${escapeAttribute(version)}</title>
${client ? clientTag(client) : ''}
</head>
<body>
<main><h1>app running ${escapeAttribute(version)}</h1></main>
${body}
</body>
</html>
`
}

/** What a path answers: a body (200, type from the extension), a bare status, or both. */
export type FileAnswer =
  string | number | { status?: number; body?: string; type?: string; headers?: Record<string, string> }

const TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  mjs: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  json: 'application/json',
}

export interface AppServer {
  /** The app's origin, e.g. `http://127.0.0.1:41234`; its index is at `${url}/`. */
  url: string
  /** Changes what `path` answers from now on, as a deploy changes the files behind a CDN. */
  setFile(path: string, answer: FileAnswer): void
  /** How many GETs `path` has answered (its query ignored). */
  requests(path: string): number
  close(): Promise<void>
}

/**
 * A static web server for the test app, on its own loopback origin (not the sidecar's), like
 * the CDN or nginx that serves a real app. Nothing is cached: every answer is `no-store`, so
 * a reload always sees the files as the test last set them. Unknown paths are 404.
 */
export async function startAppServer(files: Record<string, FileAnswer>): Promise<AppServer> {
  const answers = new Map(Object.entries(files))
  const counts = new Map<string, number>()
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const path = new URL(request.url ?? '/', 'http://app').pathname
    counts.set(path, (counts.get(path) ?? 0) + 1)
    const answer = answers.get(path === '/index.html' ? '/' : path) ?? 404
    const {
      status = 200,
      body = '',
      type,
      headers = {},
    } = typeof answer === 'string'
      ? { body: answer }
      : typeof answer === 'number'
        ? { status: answer, body: `${answer}\n`, type: 'text/plain' }
        : answer
    // A path without an extension is a page (a route of the app).
    const extension = /\.(\w+)$/.exec(path)?.[1] ?? 'html'
    response.writeHead(status, {
      'content-type': type ?? TYPES[extension] ?? 'application/octet-stream',
      'cache-control': 'no-store',
      ...headers,
    })
    response.end(request.method === 'HEAD' ? undefined : body)
  })
  server.keepAliveTimeout = 1000
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    setFile(path, answer) {
      answers.set(path, answer)
    },
    requests(path) {
      return counts.get(path) ?? 0
    },
    close() {
      server.closeAllConnections()
      return new Promise((resolve) => server.close(() => resolve()))
    },
  }
}

/** Starts app servers for the calling test file's tests, each closed after its test. */
export function useAppServers(): (files: Record<string, FileAnswer>) => Promise<AppServer> {
  const servers: AppServer[] = []
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((server) => server.close()))
  })
  return async (files) => {
    const server = await startAppServer(files)
    servers.push(server)
    return server
  }
}

/**
 * The built module (`deploy-notify/client`) as an app's bundle serves it under `folder`:
 * `${folder}/deploy-notify.js` and the chunks it imports (what acts on an update).
 */
export async function builtModule(folder: string): Promise<Record<string, string>> {
  const dist = new URL('../../dist/client/', import.meta.url)
  const files: Record<string, string> = { [`${folder}/deploy-notify.js`]: await builtClientFile('index.js') }
  for (const name of await readdir(new URL('chunks/', dist)))
    files[`${folder}/chunks/${name}`] = await readFile(new URL(`chunks/${name}`, dist), 'utf8')
  return files
}

/**
 * A file of the built client that an app bundles or serves itself: `index.js` (the module,
 * `deploy-notify/client`) or `worker.js` (the service-worker side of Reload).
 */
export async function builtClientFile(name: 'index.js' | 'worker.js'): Promise<string> {
  const url = new URL(`../../dist/client/${name}`, import.meta.url)
  return readFile(url, 'utf8').catch(() => {
    throw new Error(`${url.pathname} is missing: run "npm run build" first (npm test does)`)
  })
}
