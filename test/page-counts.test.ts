import { describe, expect, it } from 'vitest'
import { MAX_TRACKED_VERSIONS, PageCounts } from '../server/page-counts.js'
import { OTHER_VERSIONS } from '../contract/pages.js'
import { boundedVersions, MAX_VERSIONS } from '../server/status.js'

// The structure behind /status, the samples and the metrics: what it holds per app is bounded
// by constants, whatever pages claim, so each of them does bounded work.
describe('PageCounts', () => {
  it(`tracks at most ${MAX_TRACKED_VERSIONS} versions of an app by name, the rest as "${OTHER_VERSIONS}", losing no page`, () => {
    const counts = new PageCounts()
    // 3,000 streams, 20 distinct versions each: 60,000 versions claimed.
    const leaves = Array.from({ length: 3000 }, (_, stream) =>
      counts.open('wide', new Map(Array.from({ length: 20 }, (_, v) => [`v${stream}-${v}`, 1]))),
    )
    const versions = counts.versions('wide')
    expect(versions.size).toBe(MAX_TRACKED_VERSIONS + 1)
    expect([...versions.values()].reduce((sum, n) => sum + n, 0)).toBe(60_000)
    expect(versions.get(OTHER_VERSIONS)).toBe(60_000 - MAX_TRACKED_VERSIONS)
    // What /status shows is taken from those, not from 60,000.
    expect(Object.keys(boundedVersions(versions))).toHaveLength(MAX_VERSIONS + 1)
    for (const leave of leaves) leave()
    expect([...counts.apps()]).toEqual([])
  })

  it('counts the pages of one address up to its bound and reports the rest as excess until they close', () => {
    const counts = new PageCounts({ pagesPerAddress: 150 })
    const first = counts.open('web', new Map([['v1', 100]]), { address: '192.0.2.1' })
    const second = counts.open('web', new Map([['v1', 100]]), { address: '192.0.2.1' })
    counts.open('web', new Map([['v2', 3]]), { address: '192.0.2.2' })
    expect(Object.fromEntries(counts.versions('web'))).toEqual({ v1: 150, v2: 3 })
    expect(counts.excess('web')).toBe(50)
    second()
    expect(counts.excess('web')).toBe(0)
    first()
    // The bound is free again for that address.
    counts.open('web', new Map([['v1', 100]]), { address: '192.0.2.1' })
    expect(Object.fromEntries(counts.versions('web'))).toEqual({ v1: 100, v2: 3 })
  })
})
