import { createHash } from 'node:crypto'
import { readdir, readFile } from 'node:fs/promises'
import { join, relative, sep } from 'node:path'

/** Every regular file under `dir` by its `/`-separated path, with the SHA-256 of its content: what a test compares to prove what changed. */
export async function fileTree(dir: string): Promise<Record<string, string>> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true })
  const files: Record<string, string> = {}
  for (const entry of entries.filter((e) => e.isFile())) {
    const path = join(entry.parentPath, entry.name)
    files[relative(dir, path).split(sep).join('/')] = createHash('sha256')
      .update(await readFile(path))
      .digest('hex')
  }
  return files
}
