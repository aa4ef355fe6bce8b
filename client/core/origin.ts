/**
 * Where the app's `version.json` is by default: beside the document's `<base href>` when it has
 * one (an app under a path), else at the origin's root, since a deep route of a single-page
 * app (`/settings/profile`) is not where its files are.
 */
export const defaultVersionUrl = (): string =>
  new URL(document.querySelector('base[href]') ? 'version.json' : '/version.json', document.baseURI).href
