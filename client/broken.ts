/** Messages of a dynamic import or bundler chunk that failed to load (Chromium, Firefox, Safari, webpack). */
const CHUNK_FAILURE = /dynamically imported module|Importing a module script failed|ChunkLoadError|Loading (CSS )?chunk/

/**
 * Calls `broken` when the running bundle cannot load a part of itself: a same-origin script
 * or stylesheet that failed (its error event does not bubble, so it is caught while
 * capturing), Vite's `vite:preloadError`, or an unhandled chunk-load rejection.
 */
export function onBrokenBundle(broken: () => void, signal: AbortSignal): void {
  addEventListener(
    'error',
    (event) => {
      const element = event.target as Partial<HTMLScriptElement & HTMLLinkElement>
      const url = element.tagName === 'SCRIPT' ? element.src : element.tagName === 'LINK' ? element.href : ''
      // `src` and `href` read back absolute, so a prefix test is an origin test.
      if (url?.startsWith(location.origin + '/')) broken()
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
