import { randomBytes } from 'node:crypto'
import { link, mkdir, open, readFile, stat, unlink } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { StateError } from './errors.js'

/** The file in DATA_DIR that holds the token generated when NOTIFY_TOKEN is not set. */
export const TOKEN_FILE = 'notify-token'

/** The rule NOTIFY_TOKEN follows too: long enough not to be guessed, no whitespace. */
const TOKEN_RULE = /^\S{16,}$/

export const tokenPath = (dataDir: string): string => resolve(join(dataDir, TOKEN_FILE))

/**
 * The token `POST /notify` requires when NOTIFY_TOKEN is not set: the one in
 * `DATA_DIR/notify-token`, generated on the first start (32 random bytes, readable by its
 * owner only), so that `deploy-notify notify` on the same host, reading the same file, is
 * trusted and nothing reachable over the network is trusted by its address alone. Written
 * atomically: a temporary file, then a hard link that fails if another process won the race
 * (its token is then used). An existing file that others may read stops the start.
 */
export async function generatedToken(dataDir: string): Promise<{ token: string; path: string; created: boolean }> {
  const path = tokenPath(dataDir)
  const existing = await readTokenFile(dataDir)
  if (existing !== undefined) return { token: existing, path, created: false }
  try {
    await mkdir(dataDir, { recursive: true })
  } catch (error) {
    throw new StateError(`DATA_DIR ${dataDir} is not a writable folder: ${(error as Error).message}`)
  }
  const token = randomBytes(32).toString('base64url')
  const temporary = `${path}.${process.pid}.tmp`
  try {
    const file = await open(temporary, 'wx', 0o600)
    try {
      await file.chmod(0o600) // whatever the umask
      await file.writeFile(`${token}\n`)
      await file.sync()
    } finally {
      await file.close()
    }
    await link(temporary, path)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw new StateError(`cannot write the notify token to ${path}: ${(error as Error).message}`)
    }
    const theirs = await readTokenFile(dataDir)
    if (theirs === undefined) throw new StateError(`${path} vanished while it was created; start again`)
    return { token: theirs, path, created: false }
  } finally {
    await unlink(temporary).catch(() => undefined)
  }
  return { token, path, created: true }
}

/**
 * The token in `DATA_DIR/notify-token`, or undefined when there is none. The sidecar and the
 * CLI on its host both read it here. Throws a StateError naming the file when it cannot be
 * read, breaks the token rule, or (on POSIX systems) can be read by anyone but its owner.
 */
export async function readTokenFile(dataDir: string): Promise<string | undefined> {
  const path = tokenPath(dataDir)
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new StateError(`cannot read the notify token in ${path}: ${(error as Error).message}`)
  }
  if (process.platform !== 'win32' && ((await stat(path)).mode & 0o077) !== 0) {
    throw new StateError(
      `${path} can be read by others (mode ${((await stat(path)).mode & 0o777).toString(8)}): ` +
        `run "chmod 600 ${path}", or delete it to get a new token`,
    )
  }
  const token = text.trim()
  if (!TOKEN_RULE.test(token)) {
    throw new StateError(`${path} does not hold a token of at least 16 characters without whitespace`)
  }
  return token
}
