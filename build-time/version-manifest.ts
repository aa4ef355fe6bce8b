/**
 * What each build records for `deploy-notify prune`: one manifest per version in the build's
 * own folder, `.deploy-notify/versions/<version>.json`, listing every file of that build with
 * its size and SHA-256. Copied into the web root with the build, the manifests of every version
 * deployed there pile up beside its files, and prune can tell which build each file came from.
 */
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { lstat, mkdir, readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { followsRule } from '../contract/fields.js'
import { replaceFile } from './replace-file.js'

/** Relative to the build's folder (and so to the web root), `/`-separated. */
export const MANIFEST_FOLDER = '.deploy-notify/versions'
const FORMAT = 1

export interface FileRecord {
  size: number
  sha256: string
}

export interface VersionManifest {
  format: typeof FORMAT
  app: string
  version: string
  /** When the build was stamped, ISO-8601: version.json's `time`. */
  time: string
  /** Every file of the build, by its path relative to the build's folder. */
  files: Record<string, FileRecord>
}

/** A manifest that cannot be written, or read back as one; the message names the file. */
export class ManifestError extends Error {
  override name = 'ManifestError'
}

/**
 * `v1.2` -> `v1.2.json`. Every character but letters, digits, `_`, `-` and an inner `.` is
 * written `%XX`, so no version (`../x`, `a/b`, `..`) names another path.
 */
export function manifestFileName(version: string): string {
  const hex = (c: string) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`
  return `${version.replace(/^\.|[^A-Za-z0-9._-]/g, hex)}.json`
}

/**
 * A path a manifest may list: relative, `/`-separated, no empty, `.` or `..` segment, no
 * backslash or control character, and nothing inside `.deploy-notify/`.
 */
export function isBuildPath(path: string): boolean {
  if (path === '' || path.length > 4096 || path.startsWith('/') || path.includes('\\')) return false
  if ([...path].some((c) => c < ' ' || c === '\x7f')) return false
  const segments = path.split('/')
  return segments[0] !== '.deploy-notify' && segments.every((s) => s !== '' && s !== '.' && s !== '..')
}

/** Size and SHA-256 of one file, read as a stream (builds hold large images and maps). */
export async function hashFile(path: string): Promise<FileRecord> {
  const hash = createHash('sha256')
  let size = 0
  for await (const chunk of createReadStream(path)) {
    hash.update(chunk as Buffer)
    size += (chunk as Buffer).length
  }
  return { size, sha256: hash.digest('hex') }
}

/** Every regular file under `root` but `.deploy-notify/`, `/`-separated and sorted; symlinks are not followed or listed. */
export async function listBuildFiles(root: string): Promise<string[]> {
  const found: string[] = []
  const walk = async (folder: string, prefix: string): Promise<void> => {
    for (const entry of await readdir(folder, { withFileTypes: true })) {
      const path = `${prefix}${entry.name}`
      if (path === '.deploy-notify') continue
      if (entry.isDirectory()) await walk(join(folder, entry.name), `${path}/`)
      else if (entry.isFile()) found.push(path)
    }
  }
  await walk(root, '')
  return found.sort()
}

/**
 * Refuses a folder that holds other versions' manifests: a web root, or a build folder never
 * emptied, whose old files a listing of the whole folder would claim for this version.
 */
export async function checkBuildFolder(root: string, version: string): Promise<void> {
  const own = manifestFileName(version)
  const others = (await readdir(join(root, MANIFEST_FOLDER)).catch(() => [])).filter(
    (file) => file.endsWith('.json') && !file.startsWith('.') && file !== own,
  )
  if (others.length > 0)
    throw new ManifestError(
      `${join(root, MANIFEST_FOLDER)} holds other versions' manifests (${others.join(', ')}): ` +
        'stamp a build before copying it into the web root, and empty the build folder before each build',
    )
}

export interface RecordOptions {
  version: string
  app: string
  time: string
  /** The build's files, relative to `root`; without them every file in `root` is listed. */
  files?: Iterable<string>
}

/**
 * Writes (by rename) the manifest of the build in `root`. Without a list of files it lists the
 * whole folder, and so refuses one that already holds other versions' manifests: that is a web
 * root, or a build folder never emptied, and its old files would be claimed by this version.
 * Resolves to the manifest's path relative to `root`, and whether it was (re)written.
 */
export async function recordVersion(
  root: string,
  { version, app, time, files }: RecordOptions,
): Promise<{ path: string; changed: boolean }> {
  const name = manifestFileName(version)
  const path = `${MANIFEST_FOLDER}/${name}`
  if (files === undefined) await checkBuildFolder(root, version)
  const listed = [...new Set(files ?? (await listBuildFiles(root)))].sort()
  const records: Record<string, FileRecord> = {}
  for (const file of listed) {
    if (!isBuildPath(file)) throw new ManifestError(`cannot record "${file}": not a path inside the build`)
    const full = join(root, file)
    const stats = await lstat(full).catch(() => undefined)
    if (!stats?.isFile()) throw new ManifestError(`cannot record ${full}: not a regular file`)
    records[file] = await hashFile(full)
  }
  const text = manifestText({ format: FORMAT, app, version, time, files: records })
  const target = join(root, MANIFEST_FOLDER, name)
  if ((await readFile(target, 'utf8').catch(() => undefined)) === text) return { path, changed: false }
  try {
    await mkdir(join(root, MANIFEST_FOLDER), { recursive: true, mode: 0o755 })
  } catch (error) {
    throw new ManifestError(`cannot create ${join(root, MANIFEST_FOLDER)}: ${(error as Error).message}`)
  }
  await replaceFile(target, text)
  return { path, changed: true }
}

/** JSON with one line per file, so a manifest reads (and diffs) as a list. */
function manifestText(manifest: VersionManifest): string {
  const { files, ...head } = manifest
  const lines = Object.entries(files).map(
    ([file, { size, sha256 }]) => `    ${JSON.stringify(file)}: { "size": ${size}, "sha256": "${sha256}" }`,
  )
  const top = Object.entries(head).map(([key, value]) => `  ${JSON.stringify(key)}: ${JSON.stringify(value)},`)
  return `{\n${top.join('\n')}\n  "files": {\n${lines.join(',\n')}\n  }\n}\n`
}

/** The manifest in `text`, or a sentence saying why it is not one. */
export function parseManifest(text: string, fileName: string): VersionManifest | string {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (error) {
    return `invalid JSON: ${(error as Error).message}`
  }
  if (typeof value !== 'object' || value === null) return 'not a JSON object'
  const m = value as Partial<VersionManifest>
  if (m.format !== FORMAT) return `unknown format ${JSON.stringify(m.format)}`
  if (!followsRule('version', m.version)) return 'no valid "version"'
  if (manifestFileName(m.version!) !== fileName) return `its name does not match its version "${m.version}"`
  if (!followsRule('app', m.app)) return 'no valid "app"'
  if (typeof m.time !== 'string' || Number.isNaN(Date.parse(m.time))) return 'no valid "time"'
  if (typeof m.files !== 'object' || m.files === null || Array.isArray(m.files)) return 'no "files" object'
  for (const [file, record] of Object.entries(m.files)) {
    if (!isBuildPath(file)) return `it lists "${file}", which is not a path inside the web root`
    const { size, sha256 } = (record ?? {}) as Partial<FileRecord>
    if (!Number.isSafeInteger(size) || size! < 0 || typeof sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(sha256))
      return `the record of "${file}" has no valid size and sha256`
  }
  return m as VersionManifest
}

/**
 * Every manifest in the web root `root`, or a ManifestError naming the first that cannot be
 * read: a file of a kept version could otherwise look like it belonged only to old ones.
 */
export async function readManifests(root: string): Promise<VersionManifest[]> {
  const folder = join(root, MANIFEST_FOLDER)
  let names: string[]
  try {
    names = await readdir(folder)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw new ManifestError(`cannot read ${folder}: ${(error as Error).message}`)
  }
  const manifests: VersionManifest[] = []
  // Names starting with "." are a writer's temporary files.
  for (const name of names.filter((n) => n.endsWith('.json') && !n.startsWith('.')).sort()) {
    const path = join(folder, name)
    const parsed = await readFile(path, 'utf8').then(
      (text) => parseManifest(text, name),
      (error: Error) => `unreadable: ${error.message}`,
    )
    if (typeof parsed === 'string') throw new ManifestError(`${path} is not a deploy-notify manifest (${parsed})`)
    manifests.push(parsed)
  }
  return manifests
}
