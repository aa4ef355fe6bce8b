/**
 * `notify --wait-live URL`: before pages are told, wait until the public URL serves the version
 * being announced (a CDN that still caches the old files, a rollout across servers), so a page
 * that reloads for it gets it. It reads the app's version.json, as `stamp` and the build plugins
 * write it, without cache-busting: it must see what a browser would be served.
 */
import { UsageError } from './command-line.js'
import { describeNetworkError, sleep } from './sidecar-request.js'

const INTERVAL_MS = 1_000
const ATTEMPT_TIMEOUT_MS = 10_000
/** A version.json is a few hundred bytes; more than this is not one, and is not read further. */
export const MAX_VERSION_JSON_BYTES = 64 * 1024
/** Redirects followed within the URL's origin. */
const MAX_REDIRECTS = 5

/** The app's base URL (`https://app.example/shop/`) gives `.../shop/version.json`; a URL ending in `.json` is used as it is. */
export function versionJsonUrl(raw: string): URL {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    throw new UsageError(`--wait-live "${raw}" is not a URL such as https://app.example`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new UsageError(`--wait-live "${raw}" must be http or https`)
  if (!url.pathname.endsWith('.json')) url.pathname = `${url.pathname.replace(/\/+$/, '')}/version.json`
  return url
}

/** What the URL served, in words: `serves "v1"`, `answered 404`, the network error. */
async function observe(url: URL, version: string, timeoutMs: number): Promise<{ live: boolean; seen: string }> {
  try {
    const signal = AbortSignal.timeout(timeoutMs)
    let at = url
    let response: Response
    for (let redirects = 0; ; redirects++) {
      // Redirects are followed here, so one to another origin is never followed unsaid.
      response = await fetch(at, { headers: { accept: 'application/json' }, redirect: 'manual', signal })
      const location = response.headers.get('location')
      if (response.status < 300 || response.status > 399 || location === null) break
      await response.body?.cancel()
      const next = new URL(location, at)
      if (next.origin !== url.origin) {
        return {
          live: false,
          seen: `redirects to ${next.href}, on another origin, which is not followed: give --wait-live that URL if the app is served there`,
        }
      }
      if (redirects === MAX_REDIRECTS) return { live: false, seen: `redirects more than ${MAX_REDIRECTS} times` }
      at = next
    }
    const text = await readAtMost(response, MAX_VERSION_JSON_BYTES)
    if (!response.ok) return { live: false, seen: `answered ${response.status}` }
    if (text === undefined)
      return { live: false, seen: `answered with more than ${MAX_VERSION_JSON_BYTES / 1024} KiB, not a version.json` }
    let served: unknown
    try {
      served = (JSON.parse(text) as { version?: unknown }).version
    } catch {
      served = undefined
    }
    if (typeof served !== 'string') return { live: false, seen: 'answered, but not with a version.json' }
    return { live: served === version, seen: `serves "${served}"` }
  } catch (error) {
    return { live: false, seen: `cannot be read (${describeNetworkError(error)})` }
  }
}

/** The body as text, or undefined (and the rest left unread) once it passes `limit` bytes. */
async function readAtMost(response: Response, limit: number): Promise<string | undefined> {
  if (Number(response.headers.get('content-length') ?? 0) > limit) {
    await response.body?.cancel()
    return undefined
  }
  const chunks: Uint8Array[] = []
  let size = 0
  const reader = response.body?.getReader()
  for (let read = await reader?.read(); read && !read.done; read = await reader?.read()) {
    size += read.value.byteLength
    if (size > limit) {
      await reader?.cancel()
      return undefined
    }
    chunks.push(read.value)
  }
  return Buffer.concat(chunks).toString('utf8')
}

/** Polls `url` until it serves `version`; true once it does, false when `timeoutMs` ran out (having said why). */
export async function waitUntilLive(url: URL, version: string, timeoutMs: number, timeout: string): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  let last: string | undefined
  for (;;) {
    const left = deadline - Date.now()
    const { live, seen } = await observe(url, version, Math.max(1, Math.min(ATTEMPT_TIMEOUT_MS, left)))
    if (live) {
      process.stdout.write(`deploy-notify: ${url} serves "${version}"; notifying\n`)
      return true
    }
    if (seen !== last) process.stderr.write(`deploy-notify: waiting for ${url} to serve "${version}": it ${seen}\n`)
    last = seen
    if (Date.now() + INTERVAL_MS >= deadline) {
      process.stderr.write(
        `deploy-notify: ${url} did not serve "${version}" within ${timeout} (it ${seen}); nothing was notified\n`,
      )
      return false
    }
    await sleep(INTERVAL_MS)
  }
}
