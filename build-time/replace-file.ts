import { randomBytes } from 'node:crypto'
import { open, rename, stat, unlink } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'

/** A file that could not be written; the message names it. */
export class WriteError extends Error {
  override name = 'WriteError'
}

/**
 * Writes `text` to `path` so that a reader (nginx, a copy running now) sees the old file or the
 * new one, never a part: a temporary file beside it, fsync, rename over it, fsync the folder.
 * Keeps the mode of the file it replaces (nginx must still read it).
 */
export async function replaceFile(path: string, text: string): Promise<void> {
  const mode = (await stat(path).catch(() => undefined))?.mode ?? 0o644
  const temporary = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`)
  try {
    const file = await open(temporary, 'wx', mode & 0o7777)
    try {
      await file.writeFile(text)
      await file.chmod(mode & 0o7777) // open()'s mode passes through the umask
      await file.sync()
    } finally {
      await file.close()
    }
    await rename(temporary, path)
  } catch (error) {
    await unlink(temporary).catch(() => {})
    throw new WriteError(`cannot write ${path}: ${(error as Error).message}`, { cause: error })
  }
  const folder = await open(dirname(path), 'r')
  try {
    await folder.sync()
  } finally {
    await folder.close()
  }
}
