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
 * counts. Bounded rather than refused: a version that breaks the version rule (another tab's
 * broken stamp) counts as `unknown`, and past `MAX_VERSIONS_PER_STREAM` versions or
 * `MAX_PAGES_PER_STREAM` pages the smallest counts are left out. When in doubt, count.
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
  const pages = new Map<string, number>()
  let total = 0
  for (const [version, count] of [...claimed].sort(([, a], [, b]) => b - a)) {
    if (pages.size === MAX_VERSIONS_PER_STREAM || total === MAX_PAGES_PER_STREAM) break
    const counted = Math.min(count, MAX_PAGES_PER_STREAM - total)
    pages.set(version, counted)
    total += counted
  }
  return pages
}
