/**
 * The version the app's origin serves now, from its `version.json` (written by `deploy-notify
 * stamp` and the Vite plugin beside index.html), or undefined when it cannot be read.
 * `no-store` passes the browser's cache, not a CDN's: it sees what a reload would get.
 */
export const servedVersion = (url: string): Promise<string | undefined> =>
  fetch(url, { cache: 'no-store' })
    .then((response) => (response.ok ? (response.json() as Promise<{ version?: unknown }>) : undefined))
    .then(
      (info) => (typeof info?.version === 'string' ? info.version : undefined),
      () => undefined,
    )

/**
 * Where the app's `version.json` is by default: beside the document's `<base href>` when it has
 * one (an app under a path), else at the origin's root, since a deep route of a single-page
 * app (`/settings/profile`) is not where its files are.
 */
export const defaultVersionUrl = (): string =>
  new URL(document.querySelector('base[href]') ? 'version.json' : '/version.json', document.baseURI).href
