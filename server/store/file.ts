import { mkdir, open, readFile, rename, access, constants } from 'node:fs/promises'
import { join } from 'node:path'
import type { Deploy, DeployRequest } from '../deploy.js'
import { decide, StoreError, type PublishOutcome, type Store } from './store.js'

const FORMAT = 1

interface StateFile {
  format: typeof FORMAT
  apps: Record<string, Deploy>
}

/**
 * The embedded store: the current deploy per app in `DATA_DIR/state.json`, kept in memory and
 * rewritten atomically (temporary file, fsync, rename, fsync of the folder) on every change, so
 * a crash at any moment leaves either the old or the new file, never half of one.
 */
export async function openFileStore(dataDir: string): Promise<Store> {
  const path = join(dataDir, 'state.json')
  const apps = await readState(dataDir, path)
  const listeners: ((deploy: Deploy) => void)[] = []
  // Publishes run one at a time, so two notifies cannot both decide against the same state.
  let queue: Promise<unknown> = Promise.resolve()

  async function write(next: Map<string, Deploy>): Promise<void> {
    const state: StateFile = { format: FORMAT, apps: Object.fromEntries(next) }
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
    const outcome = decide(apps.get(request.app), request, new Date())
    if (outcome.kind !== 'changed') return outcome
    const next = new Map(apps).set(request.app, outcome.deploy)
    try {
      await write(next)
    } catch (error) {
      throw new StoreError(`cannot write ${path}: ${(error as Error).message}`, { cause: error })
    }
    apps.set(request.app, outcome.deploy)
    for (const listener of listeners) listener(outcome.deploy)
    return outcome
  }

  return {
    current: (app) => apps.get(app),
    all: () => [...apps.values()],
    publish(request) {
      const result = queue.then(() => publishNow(request))
      queue = result.catch(() => undefined)
      return result
    },
    onChange(listener) {
      listeners.push(listener)
    },
    async close() {
      await queue
    },
  }
}

/** Reads the state at start. Anything but a missing file or a valid one stops the start. */
async function readState(dataDir: string, path: string): Promise<Map<string, Deploy>> {
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
    throw new StoreError(`${path} is not a deploy-notify state file (${state}); it was left as it is: fix or move it and start again`)
  }
  return new Map(Object.entries(state.apps))
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
    const d = deploy as Partial<Deploy>
    if (d.app !== app || typeof d.version !== 'string' || typeof d.id !== 'string' || typeof d.time !== 'string') {
      return `app "${app}" has no valid deploy`
    }
  }
  return state as StateFile
}
