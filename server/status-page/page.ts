import { createHash } from 'node:crypto'
import { readClientFile } from '../client-files.js'
import { etagOf } from '../etag.js'
import { style } from './style.js'

/** The status page as served: the document, its validator and the policy that lets only its own style and script run. */
export interface StatusPage {
  html: string
  etag: string
  contentSecurityPolicy: string
}

const sha256 = (text: string): string => `'sha256-${createHash('sha256').update(text).digest('base64')}'`

/**
 * The status page: one HTML document with its CSS and script inline. The script is
 * `browser/status-page.ts` as `npm run build` bundled it (`dist/client/status-page.js`), read
 * once at start; undefined when it is not built. The page fills itself from `status/events`.
 */
export async function loadStatusPage(): Promise<StatusPage | undefined> {
  const built = await readClientFile('status-page.js')
  if (!built) return undefined
  const script = built.body.toString('utf8').trimEnd()
  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>Deploy status · deploy-notify</title>
<link rel="icon" href="data:,">
<style>${style}</style>
</head>
<body>
<header><h1>Deploy status</h1><p id="state" role="status">Connecting…</p></header>
<main id="apps"><p class="empty">Loading…</p></main>
<p id="announce" class="sr" aria-live="polite"></p>
<footer><p>Open pages: every tab running the app right now, by the version it runs (the tabs of one browser share one stream, and each is counted). The same numbers as <a href="status">JSON</a>.</p></footer>
<noscript><p>This page updates itself with JavaScript; without it, read <a href="status">status</a> (JSON).</p></noscript>
<script>${script}</script>
</body>
</html>
`
  return {
    html,
    etag: etagOf(html),
    /**
     * Only this page's own style and script run, and it talks only to its own origin: a version
     * string that slipped into the markup could not run anyway.
     */
    contentSecurityPolicy: [
      "default-src 'none'",
      `script-src ${sha256(script)}`,
      `style-src ${sha256(style)}`,
      "connect-src 'self'",
      'img-src data:',
      "base-uri 'none'",
      "form-action 'none'",
    ].join('; '),
  }
}
