import { mkdir, open, readFile, rename, access, constants } from 'node:fs/promises'
import { join } from 'node:path'
import type { Deploy, DeployRequest } from '../../contract/deploy.js'
import { decide, HISTORY_LENGTH, StoreError, withDeploy, type PublishOutcome, type Store } from './store.js'

const FORMAT = 1

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
 * a crash at any moment leaves either the old or the new file, never half of one.
 */
export async function openFileStore(dataDir: string): Promise<Store> {
  const path = join(dataDir, 'state.json')
  // Per app, newest first; the first entry is the current deploy.
  const apps = await readState(dataDir, path)
  const listeners: ((deploy: Deploy) => void)[] = []
  // Publishes run one at a time, so two notifies cannot both decide against the same state.
  let queue: Promise<unknown> = Promise.resolve()

  async function write(next: Map<string, Deploy[]>): Promise<void> {
    const current = [...next].map(([app, history]): [string, Deploy] => [app, history[0]!])
    const state: StateFile = { format: FORMAT, apps: Object.fromEntries(current), history: Object.fromEntries(next) }
    const temporary = `${path}.tmp`
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
    try {
      await write(next)
    } catch (error) {
      throw new StoreError(`cannot write ${path}: ${(error as Error).message}`, { cause: error })
    }
    apps.set(request.app, history)
    for (const listener of listeners) listener(outcome.deploy)
    return outcome
  }

  return {
    current: (app) => apps.get(app)?.[0],
    all: () => [...apps.values()].map((history) => history[0]!),
    // A copy: the caller may sort or trim it; the stored array is replaced, never changed, anyway.
    history: (app) => apps.get(app)?.slice() ?? [],
    publish(request) {
      const result = queue.then(() => publishNow(request))
      queue = result.catch(() => undefined)
      return result
    },
    onChange(listener) {
      listeners.push(listener)
    },
    // A local file: a write that fails is reported per notify, not as a lost connection.
    connected: () => true,
    async close() {
      await queue
    },
  }
}

/** Reads the state at start. Anything but a missing file or a valid one stops the start. */
async function readState(dataDir: string, path: string): Promise<Map<string, Deploy[]>> {
  try {
    await mkdir(dataDir, { recursive: true })
    await access(dataDir, constants.W_OK)
  } catch (error) {
    throw new StoreError(`DATA_DIR ${dataDir} is not a writable folder: ${(error as Error).message}`)
  }
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new Map()
    throw new StoreError(`cannot read ${path}: ${(error as Error).message}`)
  }
  const state = parseState(text)
  if (typeof state === 'string') {
    throw new StoreError(
      `${path} is not a deploy-notify state file (${state}); it was left as it is: fix or move it and start again`,
    )
  }
  return new Map(
    Object.entries(state.apps).map(([app, current]) => {
      const history = state.history?.[app] ?? []
      // The current deploy is authoritative; a history that does not start with it (edited by
      // hand, say) gets it in front.
      return [app, history[0]?.id === current.id ? history.slice(0, HISTORY_LENGTH) : withDeploy(history, current)]
    }),
  )
}

/** The parsed state, or a sentence saying what is wrong with it. */
function parseState(text: string): StateFile | string {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (error) {
    return `invalid JSON: ${(error as Error).message}`
  }
  if (typeof value !== 'object' || value === null) return 'not a JSON object'
  const state = value as Partial<StateFile>
  if (state.format !== FORMAT) return `unknown format ${JSON.stringify(state.format)}`
  if (typeof state.apps !== 'object' || state.apps === null) return 'no "apps" object'
  for (const [app, deploy] of Object.entries(state.apps)) {
    if (!isDeployOf(app, deploy)) return `app "${app}" has no valid deploy`
  }
  if (state.history !== undefined) {
    if (typeof state.history !== 'object' || state.history === null || Array.isArray(state.history))
      return '"history" is not an object'
    for (const [app, deploys] of Object.entries(state.history)) {
      if (!Object.hasOwn(state.apps, app)) return `app "${app}" has a history but no current deploy`
      if (!Array.isArray(deploys) || !deploys.every((deploy) => isDeployOf(app, deploy))) {
        return `app "${app}" has an invalid history`
      }
    }
  }
  return state as StateFile
}

function isDeployOf(app: string, value: unknown): value is Deploy {
  if (typeof value !== 'object' || value === null) return false
  const d = value as Partial<Deploy>
  return d.app === app && typeof d.version === 'string' && typeof d.id === 'string' && typeof d.time === 'string'
}
