import { stampHtml, versionJson } from '../../build-time/stamp.js'
import { appPage, type AppServer, type FileAnswer, type PageOptions } from '../helpers/pages.js'

/**
 * The files of one release of a test app as `deploy-notify stamp` leaves them: index.html with
 * the client's tag stamped (when it has one) and version.json beside it. `files` are the
 * release's other files (its assets).
 */
export function release(
  version: string,
  page: PageOptions = {},
  files: Record<string, FileAnswer> = {},
): Record<string, FileAnswer> & { '/': string; '/version.json': string } {
  // The build wrote a placeholder; the stamp puts the release's version in.
  const built = appPage({ ...page, version, client: page.client && { ...page.client, version: 'BUILD_VERSION' } })
  const { html, app } = stampHtml(built, { version, ifMissing: 'skip' })
  return { ...files, '/': html, '/version.json': versionFile(version, app) }
}

/** The version.json of a release, as the stamp writes it. */
export function versionFile(version: string, app = 'default'): string {
  return versionJson({ version, app, time: new Date().toISOString() })
}

/** Puts a release's files on the app's origin, as a deploy copies them over the old ones. */
export function deployTo(site: AppServer, files: Record<string, FileAnswer>): void {
  for (const [path, answer] of Object.entries(files)) site.setFile(path, answer)
}
