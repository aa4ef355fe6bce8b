import { createHash } from 'node:crypto'
import { etagOf } from '../etag.js'
import { script } from './script.js'
import { style } from './style.js'

/**
 * The status page: one HTML document with its CSS and script inline, kept as TypeScript so
 * the compiler carries it into `dist/` like any other module (tsc copies no .html file). The
 * body is built once; the page fills itself from `status/events`.
 */
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

const sha256 = (text: string): string => `'sha256-${createHash('sha256').update(text).digest('base64')}'`

export const statusPage = {
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
