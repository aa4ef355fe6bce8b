import { randomBytes } from 'node:crypto'
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
  /** Random per start, so a holder tells its own lock from a later one with its PID and host. */
  nonce?: string
}

/** The held lock: whether it is still this process's, and how to let it go. */
export interface DataDirLock {
  /** Why this process no longer holds the lock (another sidecar took it), or undefined. */
  lost(): Promise<string | undefined>
  /** Stops the heartbeat and removes the lock, if it is still this process's. */
  release(): Promise<void>
}

/**
 * One sidecar per DATA_DIR: two would each hold the state in memory and overwrite each other's
 * file. `DATA_DIR/sidecar.lock` names the holder (PID and host) and is touched every few
 * seconds while it runs. A lock is taken over when it is abandoned: its holder is on this host
 * and no longer running (a SIGKILL, a crash; a container restarted as PID 1 finds its own PID),
 * or it is on another host (or being written) and has not been touched for `ABANDONED_AFTER_MS`.
 * A holder on this host that runs is never taken over, however old its lock: a stopped process
 * (SIGSTOP, a paused VM or container, swapping) still runs, and resumes. And should a lock
 * be taken over all the same (a holder on another host, paused), the holder finds out before
 * its next write (`lost`), and stores nothing more.
 */
export async function lockDataDir(dataDir: string): Promise<DataDirLock> {
  const path = join(dataDir, 'sidecar.lock')
  const me: Holder = { pid: process.pid, host: hostname(), nonce: randomBytes(8).toString('hex') }
  const lost = async (): Promise<string | undefined> => {
    const holder = await readHolder(path)
    if (holder?.pid === me.pid && holder.host === me.host && holder.nonce === me.nonce) return undefined
    const who = holder ? `the sidecar with PID ${holder.pid} on ${holder.host}` : 'no sidecar'
    return `${path} now names ${who}, not this one (PID ${me.pid}): another sidecar took DATA_DIR over, so this one stores nothing more; stop one of them`
  }
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      // 'wx': created only if absent, so of two sidecars starting at once exactly one gets it.
      const file = await open(path, 'wx', 0o644)
      await file.writeFile(`${JSON.stringify(me)}\n`)
      await file.close()
      const heartbeat = setInterval(() => {
        const now = new Date()
        // A full disk shows in /healthz, not here; a lock another sidecar holds is not touched.
        void lost().then(async (why) => {
          if (why === undefined) await utimes(path, now, now).catch(() => undefined)
        })
      }, HEARTBEAT_MS).unref()
      return {
        lost,
        async release() {
          clearInterval(heartbeat)
          if ((await lost()) === undefined) await unlink(path).catch(() => undefined)
        },
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
          `a second sidecar for other apps needs its own DATA_DIR. ` +
          (holder?.host === me.host
            ? `That process is running (perhaps stopped, as by SIGSTOP): end it first.`
            : `If that sidecar is gone, ${path} is taken over ${ABANDONED_AFTER_MS / 1000} s after its last heartbeat.`),
      )
    }
    await unlink(path).catch(() => undefined) // abandoned: take it over
  }
  throw new DataDirInUseError(`cannot take ${path}: other sidecars keep starting on DATA_DIR ${dataDir}`)
}

async function readHolder(path: string): Promise<Holder | undefined> {
  try {
    const value = JSON.parse(await readFile(path, 'utf8')) as Partial<Holder>
    if (typeof value.pid !== 'number' || typeof value.host !== 'string') return undefined
    return { pid: value.pid, host: value.host, ...(typeof value.nonce === 'string' ? { nonce: value.nonce } : {}) }
  } catch {
    return undefined // gone meanwhile, being written, or cut short by a crash
  }
}

/** A lock being written right now has no holder yet: only its age can tell it is abandoned. */
async function abandoned(path: string, holder: Holder | undefined, me: Holder): Promise<boolean> {
  if (holder && holder.host === me.host) return holder.pid === me.pid || !running(holder.pid)
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
