import { hostname } from 'node:os'
import { open, readFile, stat, unlink, utimes } from 'node:fs/promises'
import { join } from 'node:path'
import { DataDirInUseError, StateError } from '../errors.js'

/** How often the holder touches its lock, and the age after which a lock counts as abandoned. */
const HEARTBEAT_MS = 3000
export const ABANDONED_AFTER_MS = 5 * HEARTBEAT_MS

interface Holder {
  pid: number
  host: string
}

/**
 * One sidecar per DATA_DIR: two would each hold the state in memory and overwrite each other's
 * file. `DATA_DIR/sidecar.lock` names the holder (PID and host) and is touched every few
 * seconds while it runs. A lock is taken over when it is abandoned: its holder is on this host
 * and no longer running (a SIGKILL, a crash; a container restarted as PID 1 finds its own PID),
 * or it has not been touched for `ABANDONED_AFTER_MS` (a holder on another host sharing the
 * folder, or in another PID namespace, that is gone). Resolves to the release function.
 */
export async function lockDataDir(dataDir: string): Promise<() => Promise<void>> {
  const path = join(dataDir, 'sidecar.lock')
  const me: Holder = { pid: process.pid, host: hostname() }
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      // 'wx': created only if absent, so of two sidecars starting at once exactly one gets it.
      const file = await open(path, 'wx', 0o644)
      await file.writeFile(`${JSON.stringify(me)}\n`)
      await file.close()
      const heartbeat = setInterval(() => {
        const now = new Date()
        utimes(path, now, now).catch(() => undefined) // a full disk shows in /healthz, not here
      }, HEARTBEAT_MS).unref()
      return async () => {
        clearInterval(heartbeat)
        await unlink(path).catch(() => undefined)
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new StateError(`cannot create ${path}: ${(error as Error).message}`)
      }
    }
    const holder = await readHolder(path)
    if (!(await abandoned(path, holder, me))) {
      const who = holder ? `the sidecar with PID ${holder.pid} on ${holder.host}` : 'another sidecar'
      throw new DataDirInUseError(
        `DATA_DIR ${dataDir} is in use by ${who}: two sidecars ` +
          `on one DATA_DIR would overwrite each other's state. Replicas need REDIS_URL (then DATA_DIR is unused); ` +
          `a second sidecar for other apps needs its own DATA_DIR. If that sidecar is gone, ${path} is taken ` +
          `over ${ABANDONED_AFTER_MS / 1000} s after its last heartbeat.`,
      )
    }
    await unlink(path).catch(() => undefined) // abandoned: take it over
  }
  throw new DataDirInUseError(`cannot take ${path}: other sidecars keep starting on DATA_DIR ${dataDir}`)
}

async function readHolder(path: string): Promise<Holder | undefined> {
  try {
    const value = JSON.parse(await readFile(path, 'utf8')) as Partial<Holder>
    return typeof value.pid === 'number' && typeof value.host === 'string'
      ? { pid: value.pid, host: value.host }
      : undefined
  } catch {
    return undefined // gone meanwhile, being written, or cut short by a crash
  }
}

/** A lock being written right now has no holder yet: only its age can tell it is abandoned. */
async function abandoned(path: string, holder: Holder | undefined, me: Holder): Promise<boolean> {
  if (holder && holder.host === me.host && (holder.pid === me.pid || !running(holder.pid))) return true
  try {
    return Date.now() - (await stat(path)).mtimeMs > ABANDONED_AFTER_MS
  } catch {
    return true // removed meanwhile
  }
}

function running(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: it runs, as another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}
