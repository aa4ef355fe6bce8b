/**
 * Stamping a built app: the client's script tag in index.html gets `data-version` (and
 * `data-app`), and `version.json` records what was built. Pure functions over text, shared by
 * `deploy-notify stamp` and the Vite plugin; neither reparses HTML, so everything outside the
 * one tag stays byte for byte as the bundler wrote it.
 */
import { DEFAULT_APP } from '../contract/deploy.js'
import { fields, followsRule } from '../contract/fields.js'

/** The build cannot be stamped as asked (no tag, several tags, a bad value); the message says why. */
export class StampError extends Error {
  override name = 'StampError'
}

export interface StampOptions {
  version: string
  /** Sets `data-app`; without it the tag keeps its own (and version.json says that one). */
  app?: string
  /** The sidecar's base URL, path prefix included: the tag's `src` becomes `URL/client.js`, and a missing tag is inserted. */
  sidecar?: string
  /**
   * No sidecar: the client's `src` on the app's origin (`/deploy-notify/client.js`, where the
   * build put the static client files); the tag gets `data-url="none"`, and a missing tag is inserted.
   */
  noSidecar?: string
  /** Sets `data-build-time`: when the build was made (version.json's `time`), so the page never offers an older build. */
  buildTime?: string
  /** Without a tag (and no sidecar to insert one): `fail` (the default) or `skip`, leaving the HTML as it is. */
  ifMissing?: 'fail' | 'skip'
}

export interface StampedHtml {
  html: string
  /** What happened to the client's tag. */
  tag: 'stamped' | 'inserted' | 'missing'
  /** The app the page follows: `data-app` as stamped, or the client's default. */
  app: string
}

/** What `version.json` holds. */
export interface VersionInfo {
  version: string
  app: string
  /** When it was stamped, ISO-8601. */
  time: string
  /** The app's own package.json version, where there is one. */
  packageVersion?: string
}

/** The same rules as `POST /notify`, so a stamped version can always be announced. */
export function checkVersion(version: string, option = '--version'): string {
  if (!followsRule('version', version)) throw new StampError(`${option} "${version}" ${fields.version.rule}`)
  return version
}

export function checkApp(app: string, option = '--app'): string {
  if (!followsRule('app', app)) throw new StampError(`${option} "${app}" ${fields.app.rule}`)
  return app
}

/** `https://sidecar.example/dn/` or `/deploy-notify` (same origin, behind a proxy) -> the client's URL. */
export function clientUrl(sidecar: string, option = '--sidecar'): string {
  const base = sidecar.replace(/\/+$/, '')
  let valid = base.startsWith('/') && !base.startsWith('//')
  if (!valid) {
    try {
      const url = new URL(base)
      valid = (url.protocol === 'http:' || url.protocol === 'https:') && !url.search && !url.hash
    } catch {
      valid = false
    }
  }
  if (!valid || /[\s"'<>]/.test(base)) {
    throw new StampError(
      `${option} "${sidecar}" must be the sidecar's base URL (https://sidecar.example) or a path on the app's origin (/deploy-notify)`,
    )
  }
  return `${base}/client.js`
}

// -- index.html ---------------------------------------------------------------------------

/**
 * Comments, the start tags whose content is raw text (a `<script>` in a string or a comment is
 * not a tag), and `</head>`. Attribute values may hold `>` inside quotes (HTML spec 13.2.5.32-38).
 */
const MARKUP =
  /<!--[\s\S]*?(?:-->|$)|<(script|style|textarea|title)(?=[\s/>])((?:[^>"']|"[^"]*"|'[^']*')*)>|<\/head\s*>/gi
const ATTRIBUTE = /([^\s"'>/=]+)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s"'=<>`]+))?/g
/** The client as served by the sidecar or copied from dist/client: `.../client.js`, any query. */
const CLIENT_SRC = /(?:^|\/)client\.js(?:[?#].*)?$/

interface Attribute {
  name: string
  value: string | undefined
  /** Offsets of `name="value"` in the text of the tag. */
  start: number
  end: number
}

interface ScriptTag {
  /** Offsets of the text between `<script` and `>` in the document. */
  start: number
  end: number
  attributes: Attribute[]
}

export function escapeAttribute(value: string): string {
  return value.replaceAll('&', '&amp;').replaceAll('"', '&quot;').replaceAll('<', '&lt;').replaceAll('>', '&gt;')
}

function unescapeAttribute(value: string): string {
  return value.replace(
    /&(?:#(\d+)|#x([\da-f]+)|(amp|quot|lt|gt|apos));/gi,
    (entity, decimal?: string, hex?: string, name?: string) => {
      if (decimal || hex) return String.fromCodePoint(decimal ? Number(decimal) : parseInt(hex!, 16))
      return { amp: '&', quot: '"', lt: '<', gt: '>', apos: "'" }[name!.toLowerCase() as 'amp'] ?? entity
    },
  )
}

function parseAttributes(text: string): Attribute[] {
  return [...text.matchAll(ATTRIBUTE)].map((match) => {
    const raw = match[2]
    const value = raw === undefined ? undefined : unescapeAttribute(/^["']/.test(raw) ? raw.slice(1, -1) : raw)
    return { name: match[1]!.toLowerCase(), value, start: match.index, end: match.index + match[0].length }
  })
}

/** The script tags and the position of `</head>`, skipping comments and raw text. */
function scan(html: string): { scripts: ScriptTag[]; headEnd: number | undefined } {
  const scripts: ScriptTag[] = []
  let headEnd: number | undefined
  const lower = html.toLowerCase()
  MARKUP.lastIndex = 0
  for (let match; (match = MARKUP.exec(html));) {
    const element = match[1]?.toLowerCase()
    if (match[0].startsWith('</')) headEnd ??= match.index
    if (!element) continue
    if (element === 'script') {
      const start = match.index + element.length + 1
      scripts.push({ start, end: start + match[2]!.length, attributes: parseAttributes(match[2]!) })
    }
    // Raw text runs to the matching end tag (13.2.5.2-4); nothing inside it is markup.
    const close = lower.indexOf(`</${element}`, MARKUP.lastIndex)
    MARKUP.lastIndex = close === -1 ? html.length : close
  }
  return { scripts, headEnd }
}

const attribute = (name: string, value: string): string => `${name}="${escapeAttribute(value)}"`

/** Sets (or adds, right after `src`) the given attributes in the text of one tag. */
function setAttributes(tagText: string, attributes: Attribute[], values: [string, string][]): string {
  const edits: { start: number; end: number; text: string }[] = []
  const src = attributes.find((a) => a.name === 'src')!
  let added = ''
  for (const [name, value] of values) {
    const existing = attributes.filter((a) => a.name === name)
    if (existing.length === 0) added += ` ${attribute(name, value)}`
    // Browsers read the first of duplicate attributes (13.2.5.33); rewrite it, leave the others.
    else edits.push({ start: existing[0]!.start, end: existing[0]!.end, text: attribute(name, value) })
  }
  if (added) edits.push({ start: src.end, end: src.end, text: added })
  edits.sort((a, b) => b.start - a.start)
  for (const edit of edits) tagText = tagText.slice(0, edit.start) + edit.text + tagText.slice(edit.end)
  return tagText
}

/** Where a new tag goes: its own line before `</head>`, indented like the line above, when the head is laid out in lines. */
function insertBeforeHeadEnd(html: string, headEnd: number, tag: string): string {
  const lineStart = html.lastIndexOf('\n', headEnd - 1) + 1
  if (lineStart === 0 || html.slice(lineStart, headEnd).trim() !== '')
    return html.slice(0, headEnd) + tag + html.slice(headEnd)
  const previousLineStart = html.lastIndexOf('\n', lineStart - 2) + 1
  const indent = /^[ \t]*/.exec(html.slice(previousLineStart, lineStart))![0]
  return `${html.slice(0, lineStart)}${indent}${tag}\n${html.slice(lineStart)}`
}

/**
 * Stamps the client's script tag (the one `<script>` whose `src` ends in `client.js`): sets
 * `data-version`, `data-app` and `data-build-time` when given, and `src` when a sidecar is given
 * (with no sidecar, also `data-url="none"`). Without a tag, a sidecar URL (or no sidecar)
 * inserts one before `</head>`. Running it again on its output changes nothing.
 */
export function stampHtml(html: string, options: StampOptions, file = 'index.html'): StampedHtml {
  const version = checkVersion(options.version)
  const app = options.app === undefined ? undefined : checkApp(options.app)
  const src = options.noSidecar ?? (options.sidecar === undefined ? undefined : clientUrl(options.sidecar))
  const extra: [string, string][] = [
    ...(options.buildTime === undefined ? [] : [['data-build-time', options.buildTime] as [string, string]]),
    ...(options.noSidecar === undefined ? [] : [['data-url', 'none'] as [string, string]]),
  ]
  const { scripts, headEnd } = scan(html)
  const tags = scripts.filter((tag) =>
    tag.attributes.some((a) => a.name === 'src' && a.value !== undefined && CLIENT_SRC.test(a.value)),
  )
  if (tags.length > 1) {
    throw new StampError(
      `${file} has ${tags.length} deploy-notify script tags (<script src=".../client.js">); keep one`,
    )
  }
  const [tag] = tags
  if (!tag) {
    if (src === undefined && options.ifMissing === 'skip') return { html, app: app ?? DEFAULT_APP, tag: 'missing' }
    if (src === undefined) {
      throw new StampError(
        `${file} has no deploy-notify script tag: add <script src="https://sidecar.example/client.js" defer></script>, or pass the sidecar's URL to insert one`,
      )
    }
    if (headEnd === undefined)
      throw new StampError(`${file} has no </head> to insert the deploy-notify script tag before`)
    const values = [
      attribute('src', src),
      attribute('data-version', version),
      ...(app ? [attribute('data-app', app)] : []),
      ...extra.map(([name, value]) => attribute(name, value)),
    ]
    return {
      html: insertBeforeHeadEnd(html, headEnd, `<script ${values.join(' ')} defer></script>`),
      app: app ?? DEFAULT_APP,
      tag: 'inserted',
    }
  }
  const values: [string, string][] = [['data-version', version]]
  if (app !== undefined) values.push(['data-app', app])
  values.push(...extra)
  if (src !== undefined) values.push(['src', src])
  const text = setAttributes(html.slice(tag.start, tag.end), tag.attributes, values)
  const taggedApp = app ?? tag.attributes.find((a) => a.name === 'data-app')?.value ?? DEFAULT_APP
  return { html: html.slice(0, tag.start) + text + html.slice(tag.end), app: taggedApp, tag: 'stamped' }
}

// -- version.json -------------------------------------------------------------------------

/**
 * The text of version.json. When `previous` (the file as it is) already says the same version,
 * app and package version, its time is kept, so stamping again rewrites nothing.
 */
export function versionJson(info: VersionInfo, previous?: string): string {
  let time = info.time
  try {
    const old = previous === undefined ? undefined : (JSON.parse(previous) as Partial<VersionInfo>)
    const same = old?.version === info.version && old.app === info.app && old.packageVersion === info.packageVersion
    if (same && typeof old.time === 'string') time = old.time
  } catch {
    // not ours, or broken: replaced
  }
  const { version, app, packageVersion } = info
  return `${JSON.stringify({ version, app, time, ...(packageVersion === undefined ? {} : { packageVersion }) }, null, 2)}\n`
}

// -- what each build records for prune ----------------------------------------------------

// `deploy-notify stamp` and every build plugin write it the same way: see version-manifest.ts.
export {
  checkBuildFolder,
  MANIFEST_FOLDER,
  ManifestError,
  recordVersion,
  type RecordOptions,
} from './version-manifest.js'
