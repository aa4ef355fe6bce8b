/**
 * A dynamic import or bundler chunk that failed to load: "Failed to fetch dynamically imported
 * module" (Chromium), "error loading dynamically imported module" (Firefox), "Importing a
 * module script failed" (Safari), webpack's and Rspack's ChunkLoadError ("Loading chunk 42
 * failed", matched by its name), mini-css-extract-plugin's "Loading CSS chunk 42 failed".
 */
const CHUNK_FAILURE = /dynamically imported|module script failed|ChunkLoad|CSS chunk/

/** The page's own scripts and stylesheets as the document was parsed: the build's entry files. */
const ENTRY_FILES = 'script[src],link[rel~=stylesheet],link[rel=modulepreload]'

/** What a failed element loaded, absolute (`src` and `href` read back resolved). */
const urlOf = (element: Partial<HTMLScriptElement & HTMLLinkElement>): string =>
  (element.tagName === 'SCRIPT' ? element.src : element.tagName === 'LINK' ? element.href : '') ?? ''

/**
 * Calls `broken` when the running bundle cannot load a part of itself: Vite's
 * `vite:preloadError`, an unhandled chunk-load rejection, or a script or stylesheet of the
 * build's own files that failed (its error event does not bubble, so it is caught while
 * capturing). The build's own files are those on the page's origin in the folders of the
 * document's first scripts and stylesheets (`/assets/`), so a blocked first-party analytics
 * script or a missing optional file elsewhere on the origin is not the bundle breaking. A page
 * whose entry files are elsewhere counts every same-origin file. The caller still confirms that
 * another version is live before it tells anyone.
 */
export function onBrokenBundle(broken: () => void, signal: AbortSignal): void {
  const origin = location.origin + '/'
  const folders = [...document.querySelectorAll(ENTRY_FILES)]
    .map(urlOf)
    // deploy-notify's own script is not the app's, even when a proxy serves it on the origin.
    .filter((url) => url.startsWith(origin) && !/\/client\.js\b/.test(url))
    .map((url) => url.replace(/[^/]*$/, ''))
  addEventListener(
    'error',
    ({ target }) => {
      const url = urlOf(target as HTMLElement)
      if (url.startsWith(origin) && (!folders[0] || folders.some((folder) => url.startsWith(folder)))) broken()
    },
    { capture: true, signal },
  )
  addEventListener('vite:preloadError', broken, { signal })
  addEventListener(
    'unhandledrejection',
    ({ reason }: { reason: unknown }) =>
      reason instanceof Error && CHUNK_FAILURE.test(`${reason.name} ${reason.message}`) && broken(),
    { signal },
  )
}
