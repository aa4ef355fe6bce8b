import { access, constants, mkdir, open, readFile, rename, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import type { Deploy, DeployRequest } from '../../contract/deploy.js'
import { StateError, StoreUnavailableError } from '../errors.js'
import { lockDataDir } from './data-dir-lock.js'
import { decide, HISTORY_LENGTH, withDeploy, type PublishOutcome, type Store } from './store.js'
import { storedDeploy } from './stored-deploy.js'

const FORMAT = 1
/** How often the folder is checked for writes while it takes them, and while it does not. */
const PROBE_MS = 5000
const FAILING_PROBE_MS = 1000

/**
 * `history` came later within format 1: a file without it still loads (each app's history is
 * then its current deploy), and an older sidecar reading a newer file ignores it.
 */
interface StateFile {
  format: typeof FORMAT
  apps: Record<string, Deploy>
  history?: Record<string, Deploy[]>
}

/**
 * The embedded store: the recent deploys per app in `DATA_DIR/state.json`, kept in memory and
 * rewritten atomically (temporary file, fsync, rename, fsync of the folder) on every change, so
 * a crash at any moment leaves either the old or the new file, never half of one. One sidecar
 * per DATA_DIR (`data-dir-lock.ts`).
 */
export async function openFileStore(dataDir: string): Promise<Store> {
  const path = join(dataDir, 'state.json')
  const temporary = `${path}.tmp`
  await ensureWritable(dataDir)
  const lock = await lockDataDir(dataDir)
  let apps: Map<string, Deploy[]>
  try {
    // Per app, newest first; the first entry is the current deploy.
    apps = await readState(path)
  } catch (error) {
    await lock.release()
    throw error
  }
  const listeners: ((deploy: Deploy) => void)[] = []
  // Writes and probes run one at a time, so two notifies cannot both decide against the same state.
  let queue: Promise<unknown> = Promise.resolve()
  const enqueue = <T>(task: () => Promise<T>): Promise<T> => {
    const result = queue.then(task)
    queue = result.catch(() => undefined)
    return result
  }
  /** Why the last write or probe failed; `/healthz` is 503 until one succeeds. */
  let writeProblem: string | undefined
  const failed = (error: unknown) => (writeProblem = `cannot write ${path}: ${(error as Error).message}`)

  async function write(next: Map<string, Deploy[]>): Promise<void> {
    const current = [...next].map(([app, history]): [string, Deploy] => [app, history[0]!])
    const state: StateFile = { format: FORMAT, apps: Object.fromEntries(current), history: Object.fromEntries(next) }
    const file = await open(temporary, 'w', 0o644)
    try {
      await file.writeFile(`${JSON.stringify(state, null, 2)}\n`)
      await file.sync()
    } finally {
      await file.close()
    }
    await rename(temporary, path)
    // The rename is durable only once the folder's entry is.
    const folder = await open(dataDir, 'r')
    try {
      await folder.sync()
    } finally {
      await folder.close()
    }
  }

  async function publishNow(request: DeployRequest): Promise<PublishOutcome> {
    const outcome = decide(apps.get(request.app)?.[0], request, new Date())
    if (outcome.kind !== 'changed') return outcome
    const history = withDeploy(apps.get(request.app) ?? [], outcome.deploy)
    const next = new Map(apps).set(request.app, history)
    // Another sidecar may have taken DATA_DIR over while this one was stopped: it writes, not this one.
    const lost = await lock.lost()
    if (lost) throw new StoreUnavailableError((writeProblem = lost))
    try {
      await write(next)
    } catch (error) {
      throw new StoreUnavailableError(failed(error), { cause: error })
    }
    writeProblem = undefined
    apps.set(request.app, history)
    for (const listener of listeners) listener(outcome.deploy)
    return outcome
  }

  /** Creates and removes the temporary file, the first step of every write: cheap, no fsync. */
  async function probe(): Promise<void> {
    const lost = await lock.lost()
    if (lost) {
      writeProblem = lost
      return
    }
    try {
      await (await open(temporary, 'w', 0o644)).close()
      await unlink(temporary)
      writeProblem = undefined
    } catch (error) {
      failed(error)
    }
  }
  let closed = false
  let probeTimer: NodeJS.Timeout | undefined
  const scheduleProbe = () => {
    probeTimer = setTimeout(
      () => void enqueue(probe).then(() => closed || scheduleProbe()),
      writeProblem === undefined ? PROBE_MS : FAILING_PROBE_MS,
    ).unref()
  }
  scheduleProbe()

  return {
    current: (app) => apps.get(app)?.[0],
    all: () => [...apps.values()].map((history) => history[0]!),
    // A copy: the caller may sort or trim it; the stored array is replaced, never changed, anyway.
    history: (app) => apps.get(app)?.slice() ?? [],
    publish: (request) => enqueue(() => publishNow(request)),
    onChange(listener) {
      listeners.push(listener)
    },
    problem: () => writeProblem,
    isolated: () => undefined,
    // A bad state file stops the start instead: nothing is ever skipped here.
    rejected: 0,
    streamCounts: (local) => ({
      apps: () => local.apps(),
      versions: (app) => local.versions(app),
      excess: (app) => local.excess?.(app) ?? 0,
      close: async () => {},
    }),
    async close() {
      closed = true
      clearTimeout(probeTimer)
      await queue
      await lock.release()
    },
  }
}

async function ensureWritable(dataDir: string): Promise<void> {
  try {
    await mkdir(dataDir, { recursive: true })
    await access(dataDir, constants.W_OK)
  } catch (error) {
    throw new StateError(`DATA_DIR ${dataDir} is not a writable folder: ${(error as Error).message}`)
  }
}

/** Reads the state at start. Anything but a missing file or a valid one stops the start. */
async function readState(path: string): Promise<Map<string, Deploy[]>> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new Map()
    throw new StateError(`cannot read ${path}: ${(error as Error).message}`)
  }
  const state = parseState(text)
  if (typeof state === 'string') {
    throw new StateError(
      `${path} is not a deploy-notify state file (${state}); it was left as it is: fix or move it and start again`,
    )
  }
  return new Map(
    [...state.apps].map(([app, current]) => {
      const history = state.history.get(app) ?? []
      // The current deploy is authoritative; a history that does not start with it (edited by
      // hand, say) gets it in front.
      return [app, history[0]?.id === current.id ? history.slice(0, HISTORY_LENGTH) : withDeploy(history, current)]
    }),
  )
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

/** Maps, not objects: an app may be called "__proto__". */
interface ParsedState {
  apps: Map<string, Deploy>
  history: Map<string, Deploy[]>
}

/** The parsed state, every deploy in it checked by the field rules, or a sentence saying what is wrong. */
function parseState(text: string): ParsedState | string {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (error) {
    return `invalid JSON: ${(error as Error).message}`
  }
  if (!isRecord(value)) return 'not a JSON object'
  if (value.format !== FORMAT) return `unknown format ${JSON.stringify(value.format)}`
  if (!isRecord(value.apps)) return 'no "apps" object'
  const state: ParsedState = { apps: new Map(), history: new Map() }
  for (const [app, raw] of Object.entries(value.apps)) {
    const deploy = deployOf(app, raw)
    if (typeof deploy === 'string') return `app "${app}" has no valid deploy: ${deploy}`
    state.apps.set(app, deploy)
  }
  if (value.history === undefined) return state
  if (!isRecord(value.history)) return '"history" is not an object'
  for (const [app, raw] of Object.entries(value.history)) {
    if (!state.apps.has(app)) return `app "${app}" has a history but no current deploy`
    if (!Array.isArray(raw)) return `app "${app}" has an invalid history: not a list`
    const deploys: Deploy[] = []
    for (const [i, item] of raw.entries()) {
      const deploy = deployOf(app, item)
      if (typeof deploy === 'string') return `app "${app}" has an invalid history: entry ${i + 1}: ${deploy}`
      deploys.push(deploy)
    }
    state.history.set(app, deploys)
  }
  return state
}

function deployOf(app: string, value: unknown): Deploy | string {
  const deploy = storedDeploy(value)
  if (typeof deploy !== 'string' && deploy.app !== app) return `its app is "${deploy.app}"`
  return deploy
}
