/**
 * Which versions in a web root may go, and which of their files: a pure function of the
 * manifests, the sidecar's `/status` of the app, and the version the web root serves.
 */
import type { FileRecord, VersionManifest } from '../build-time/version-manifest.js'
import type { Deploy } from '../contract/deploy.js'
import { OTHER_VERSIONS } from '../contract/pages.js'
import type { AppStatus } from '../server/status.js'

/** What open pages that report no version are counted as (server/routes/events.ts). */
const UNKNOWN_VERSION = 'unknown'

/** The root's entry points: whatever the manifests say, prune never deletes them. */
const ENTRY_FILES = new Set(['index.html', 'version.json'])

export interface PrunePlan {
  /** Versions that stay, each with why. */
  kept: Map<string, string[]>
  /** Manifests of the versions that may go. */
  prunable: VersionManifest[]
  /** Set when nothing may go at all, saying why. */
  blocked?: string
  /** Files only prunable versions list, with what each of them recorded. */
  files: Map<string, FileRecord[]>
}

export interface PlanInput {
  manifests: VersionManifest[]
  status: AppStatus & { current: NonNullable<AppStatus['current']> }
  /** The version DIR/version.json names: live, whether or not it was announced yet. */
  served: string
  /** `--keep-for`: versions that were current this recently (ms before `now`) stay too. */
  keepFor?: { ms: number; label: string; now: number }
}

const pages = (n: number) => `${n} open page${n === 1 ? '' : 's'}`

export function planPrune({ manifests, status, served, keepFor }: PlanInput): PrunePlan {
  const current = status.current
  const recorded = new Set(manifests.map((m) => m.version))
  const open = new Map(Object.entries(status.pages.versions).filter(([, n]) => n > 0))
  const kept = new Map<string, string[]>()
  const keep = (version: string, reason: string) => kept.set(version, [...(kept.get(version) ?? []), reason])
  keep(current.version, 'current')
  keep(served, 'served by the web root (version.json)')
  for (const [version, count] of open) {
    if (version !== UNKNOWN_VERSION && version !== OTHER_VERSIONS) keep(version, pages(count))
  }
  if (keepFor) keepRecent(status.history, recorded, keepFor, keep)
  const deployTime = Date.parse(current.time)
  for (const manifest of manifests) {
    // Built after the current deploy was announced: a deploy being copied now, not yet notified.
    if (Date.parse(manifest.time) > deployTime) keep(manifest.version, 'built after the current deploy')
  }

  const unrecorded = [...kept.keys()].filter((version) => !recorded.has(version))
  let blocked: string | undefined
  const unknown = open.get(UNKNOWN_VERSION)
  const other = open.get(OTHER_VERSIONS)
  if (unknown) blocked = `${pages(unknown)} report no version ("${UNKNOWN_VERSION}"), so they may run any version`
  else if (other)
    blocked = `${pages(other)} run versions the sidecar sums as "${OTHER_VERSIONS}", which may be any version`
  else if (unrecorded.length > 0)
    blocked = `no manifest in the web root lists the files of ${unrecorded.map((v) => `"${v}"`).join(', ')}, which must stay`
  const prunable = blocked ? [] : manifests.filter((m) => !kept.has(m.version))

  // A file goes only if no kept version lists it: shared files stay with the newest that has them.
  const files = new Map<string, FileRecord[]>()
  const keptFiles = new Set(manifests.filter((m) => kept.has(m.version)).flatMap((m) => Object.keys(m.files)))
  for (const manifest of prunable) {
    for (const [path, record] of Object.entries(manifest.files)) {
      if (keptFiles.has(path) || ENTRY_FILES.has(path)) continue
      files.set(path, [...(files.get(path) ?? []), record])
    }
  }
  return { kept, prunable, files, ...(blocked === undefined ? {} : { blocked }) }
}

/**
 * `--keep-for`: a page asleep (a closed laptop) holds no stream, so no count keeps its version;
 * a window keeps every version that was current within it. The history is newest first, each
 * deploy current until the one before it in the list came. Versions older than the history
 * stay while the history does not reach back past the window: which was current then is unknown.
 * Only versions with a manifest count: one without was pruned before, or never stamped.
 */
function keepRecent(
  history: Deploy[],
  recorded: ReadonlySet<string>,
  { ms, label, now }: NonNullable<PlanInput['keepFor']>,
  keep: (version: string, reason: string) => void,
): void {
  const since = now - ms
  // The first is the current deploy, kept as such.
  const recent = new Set(history.slice(0, 1).map((deploy) => deploy.version))
  /** When the deploy above in the list came, which ended this one. */
  let until: string | undefined
  for (const deploy of history) {
    const candidate = recorded.has(deploy.version) && !recent.has(deploy.version)
    if (candidate && until !== undefined && Date.parse(until) >= since) {
      recent.add(deploy.version)
      keep(deploy.version, `current until ${until}, within --keep-for ${label}`)
    }
    until = deploy.time
  }
  const oldest = history.at(-1)
  if (oldest && Date.parse(oldest.time) < since) return
  const known = new Set(history.map((deploy) => deploy.version))
  for (const version of recorded) {
    if (!known.has(version)) keep(version, `older than the sidecar's history, which starts within --keep-for ${label}`)
  }
}
