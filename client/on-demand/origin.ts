import type { Deploy } from '../core/deploy.js'

/**
 * What the app's origin serves now, from its `version.json` (written by `deploy-notify stamp`
 * and the build plugins beside index.html: `version` and the build's `time`), or undefined when
 * it cannot be read. `no-store` passes the browser's cache, not a CDN's: it sees what a reload
 * would get.
 */
export const servedVersion = (url: string): Promise<Deploy | undefined> =>
  fetch(url, { cache: 'no-store' })
    .then((response) => (response.ok ? (response.json() as Promise<Deploy | undefined>) : undefined))
    .then(
      (info) => (typeof info?.version === 'string' ? info : undefined),
      () => undefined,
    )
