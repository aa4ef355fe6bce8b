import { followsRule } from './fields.js'

/**
 * How a browser tells the sidecar which pages share its one stream: the tab that holds the
 * stream (the leader) opens it with the count of open pages by running version, as JSON
 * (`{"v10":7,"v11":2}`), in the `pages` parameter of `/events`, and reopens it when the count
 * changes. A version may hold any printable character, `,` and `:` included, so the value is
 * JSON rather than a hand-made list.
 */

/**
 * Pages one stream may claim: a browser with more tabs of one app than this counts this many,
 * and so does a page that claims more, so no client can inflate the counts without limit.
 */
export const MAX_PAGES_PER_STREAM = 100
/** Distinct versions one stream may claim (a browser rarely holds more than two or three). */
export const MAX_VERSIONS_PER_STREAM = 20
/** The `pages` parameter's length: 20 versions of 128 characters, quoted, with their counts. */
export const MAX_PAGES_LENGTH = 3000
/** Where the pages of tabs whose version breaks the version rule are counted. */
export const UNKNOWN_VERSION = 'unknown'
/**
 * Where pages past a cap are counted: versions not named, which may be any version (so
 * `prune` deletes nothing and `wait-drained` keeps waiting while there are such pages).
 */
export const OTHER_VERSIONS = 'other'

/**
 * `tabs`: the random id the tabs of one browser share for one app. A stream opened with it
 * replaces the last one with it (a reopen, a new leader tab), so the pages are never counted twice.
 */
export const tabsField = {
  schema: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' },
  rule: 'must be 1-64 letters, digits, "_" or "-"',
} as const

export const pagesField = {
  schema: { type: 'string', maxLength: MAX_PAGES_LENGTH },
  rule: `must be a JSON object of versions to page counts (whole numbers from 1), at most ${MAX_PAGES_LENGTH} characters`,
} as const

/**
 * Open pages by version, read from a `pages` value, or undefined when it is not an object of
 * counts. Bounded rather than refused, and no version with a page is ever left out: a version
 * that breaks the version rule (another tab's broken stamp) counts as `unknown`; past
 * `MAX_VERSIONS_PER_STREAM` versions the least-run are summed as `other`; past
 * `MAX_PAGES_PER_STREAM` pages the largest counts are cut, never one below a page. When in
 * doubt, count.
 */
export function readPages(text: string): Map<string, number> | undefined {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return undefined
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined
  const claimed = new Map<string, number>()
  for (const [version, count] of Object.entries(value)) {
    if (!Number.isSafeInteger(count) || (count as number) < 1) return undefined
    const name = followsRule('version', version) ? version : UNKNOWN_VERSION
    claimed.set(name, (claimed.get(name) ?? 0) + (count as number))
  }
  if (claimed.size === 0) return undefined
  // Most-run first; ties by name, so a reopened stream counts the same versions by name.
  const sorted = [...claimed].sort(([a, m], [b, n]) => n - m || (a < b ? -1 : a > b ? 1 : 0))
  const named = sorted.filter(([version]) => version !== OTHER_VERSIONS)
  const fits = claimed.size <= MAX_VERSIONS_PER_STREAM
  const kept = fits ? sorted : named.slice(0, MAX_VERSIONS_PER_STREAM - 1)
  const rest = fits ? 0 : sorted.reduce((sum, [, n]) => sum + n, 0) - kept.reduce((sum, [, n]) => sum + n, 0)
  const bounded = rest > 0 ? [...kept, [OTHER_VERSIONS, rest] as [string, number]] : kept
  // The page cap, smallest counts first: each keeps its count while an even share of what is
  // left allows, and at least one page, so only the largest counts are cut.
  const pages = new Map<string, number>()
  let left = MAX_PAGES_PER_STREAM
  const ascending = bounded.sort(([, a], [, b]) => a - b)
  for (const [i, [version, count]] of ascending.entries()) {
    const counted = Math.min(count, Math.max(1, Math.floor(left / (ascending.length - i))))
    pages.set(version, counted)
    left -= counted
  }
  return pages
}
