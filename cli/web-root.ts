/**
 * Deleting from a web root without ever reaching outside it: every folder on the way to a file
 * must be a real folder (a symlink could point anywhere, /etc included), the file a regular
 * file, and its content what a build recorded. Paths are the manifests' own, already checked to
 * hold no `..`, absolute part or backslash (build-time/version-manifest.ts).
 */
import { lstat, rmdir, unlink } from 'node:fs/promises'
import { dirname, join, relative, sep } from 'node:path'
import { hashFile, type FileRecord } from '../build-time/version-manifest.js'

/** What became of one file prune meant to delete. */
export type FileOutcome =
  | { kind: 'deleted'; size: number }
  /** Gone already (an earlier prune, a hand). */
  | { kind: 'missing' }
  /** Kept: a symlink on the way, not a regular file, or content no prunable build recorded. */
  | { kind: 'kept'; reason: string }
  /** Could not be read or deleted; its manifest stays so a later run tries again. */
  | { kind: 'failed'; reason: string }

/**
 * `relative` (`/`-separated) inside `root` (a real path), when every folder on the way is a
 * real folder and it is a regular file; `missing` when some part does not exist.
 */
export async function regularFileInside(
  root: string,
  path: string,
): Promise<{ path: string; size: number } | { missing: true } | { refused: string }> {
  const segments = path.split('/')
  const full = join(root, ...segments)
  if (relative(root, full).startsWith(`..${sep}`)) return { refused: 'outside the web root' }
  for (let i = 1; i <= segments.length; i++) {
    const stats = await lstat(join(root, ...segments.slice(0, i))).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return undefined
      throw error
    })
    if (!stats) return { missing: true }
    const last = i === segments.length
    if (stats.isSymbolicLink()) return { refused: `${last ? 'it' : segments.slice(0, i).join('/')} is a symlink` }
    if (last ? !stats.isFile() : !stats.isDirectory()) return { refused: 'not a regular file in a folder' }
    if (last) return { path: full, size: stats.size }
  }
  return { refused: 'empty path' }
}

/**
 * Deletes `path` from `root` if it is safe to reach and its content is one that `records` (the
 * prunable builds that list it) recorded; with `dryRun`, says what it would do.
 */
export async function deleteRecordedFile(
  root: string,
  path: string,
  records: readonly FileRecord[],
  dryRun: boolean,
): Promise<FileOutcome> {
  try {
    const found = await regularFileInside(root, path)
    if ('missing' in found) return { kind: 'missing' }
    if ('refused' in found) return { kind: 'kept', reason: found.refused }
    const { size, sha256 } = await hashFile(found.path)
    // Overwritten since by a build that did not record it (or by hand): not ours to delete.
    if (!records.some((r) => r.size === size && r.sha256 === sha256))
      return { kind: 'kept', reason: 'its content is not what the old builds recorded' }
    if (!dryRun) await unlink(found.path)
    return { kind: 'deleted', size }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing' }
    return { kind: 'failed', reason: (error as Error).message }
  }
}

/** Removes the folders that deleting `paths` left empty, up to (never including) `root`. */
export async function removeEmptyFolders(root: string, paths: Iterable<string>): Promise<void> {
  const folders = new Set<string>()
  for (const path of paths) {
    for (let folder = dirname(path); folder !== '.'; folder = dirname(folder)) folders.add(folder)
  }
  // Deepest first, so a parent is tried after its children.
  for (const folder of [...folders].sort((a, b) => b.split('/').length - a.split('/').length)) {
    await rmdir(join(root, ...folder.split('/'))).catch(() => {}) // not empty, or gone: leave it
  }
}
