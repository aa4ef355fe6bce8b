import { describe, expect, it } from 'vitest'
import type { VersionManifest } from '../build-time/version-manifest.js'
import { planPrune, type PlanInput } from '../cli/prune-plan.js'
import type { Deploy } from '../contract/deploy.js'

// --keep-for's window against a history the sidecar could have: which versions it keeps is a
// pure function of the history, the manifests and the time. The CLI end is in prune.test.ts.
const NOW = Date.parse('2026-11-30T12:00:00Z')
const HOUR = 3_600_000
const at = (hoursAgo: number) => new Date(NOW - hoursAgo * HOUR).toISOString()

const manifest = (version: string, hoursAgo: number): VersionManifest => ({
  format: 1,
  app: 'web',
  version,
  time: at(hoursAgo + 0.1),
  files: { [`assets/app-${version}.js`]: { size: 1, sha256: version } },
})

/** Deploys newest first, as `/status` lists them: [version, hours ago]. */
function plan(history: [string, number][], manifests: VersionManifest[], keepForHours?: number) {
  const deploys = history.map(([version, hoursAgo], i): Deploy => ({
    app: 'web',
    version,
    id: String(history.length - i),
    time: at(hoursAgo),
  }))
  const status: PlanInput['status'] = {
    current: deploys[0]!,
    history: deploys,
    pages: { total: 0, versions: {} },
    streams: { total: 0, versions: {} },
    samples: [],
  }
  const keepFor =
    keepForHours === undefined ? undefined : { ms: keepForHours * HOUR, label: `${keepForHours}h`, now: NOW }
  const { kept, prunable } = planPrune({ manifests, status, served: deploys[0]!.version, keepFor })
  return { kept: Object.fromEntries(kept), prunable: prunable.map((m) => m.version) }
}

describe('prune --keep-for', () => {
  const manifests = ['v1', 'v2', 'v3', 'v4'].map((v, i) => manifest(v, 100 - i * 24))

  it('keeps the versions current within the window, each with when it was replaced', () => {
    // v4 came 3 h ago, v3 26 h ago, v2 50 h ago, v1 76 h ago.
    const history: [string, number][] = [
      ['v4', 3],
      ['v3', 26],
      ['v2', 50],
      ['v1', 76],
    ]
    expect(plan(history, manifests).prunable).toEqual(['v1', 'v2', 'v3'])
    const day = plan(history, manifests, 24)
    expect(day.prunable).toEqual(['v1', 'v2'])
    expect(day.kept.v3).toEqual([`current until ${at(3)}, within --keep-for 24h`])
    const twoDays = plan(history, manifests, 48)
    expect(twoDays.prunable).toEqual(['v1'])
    expect(twoDays.kept.v2).toEqual([`current until ${at(26)}, within --keep-for 48h`])
    expect(plan(history, manifests, 51).prunable).toEqual([])
  })

  it('keeps a rolled-back version once, by its latest time as current', () => {
    const history: [string, number][] = [
      ['v2', 1],
      ['v3', 2],
      ['v2', 30],
      ['v1', 76],
    ]
    const kept = plan(history, manifests, 10).kept
    expect(kept.v3).toEqual([`current until ${at(1)}, within --keep-for 10h`])
    expect(kept.v2).toEqual(['current', 'served by the web root (version.json)'])
  })

  it('keeps versions older than the history while the history does not reach back past the window', () => {
    // Twenty deploys today (the sidecar keeps 20): which version ran before them is unknown.
    const history: [string, number][] = [
      ['v4', 1],
      ['v3', 2],
    ]
    const { kept, prunable } = plan(history, manifests, 24)
    expect(prunable).toEqual([])
    expect(kept.v1).toEqual(["older than the sidecar's history, which starts within --keep-for 24h"])
    expect(plan(history, manifests, 1.5).prunable).toEqual(['v1', 'v2'])
  })

  it('ignores a version in the window whose manifest is gone (pruned before): nothing of it to keep', () => {
    const history: [string, number][] = [
      ['v4', 1],
      ['v0', 2],
      ['v3', 30],
    ]
    const { kept, prunable } = plan(history, manifests, 24)
    expect(kept.v0).toBeUndefined()
    expect(kept.v3).toEqual([`current until ${at(2)}, within --keep-for 24h`])
    expect(prunable).toEqual(['v1', 'v2'])
  })
})
