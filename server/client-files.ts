import { readFile } from 'node:fs/promises'

/**
 * Where the built browser scripts are: `dist/client/`, seen from `dist/server/` when running
 * the build, or from `server/` when tests run the sources.
 */
const folders = [new URL('../client/', import.meta.url), new URL('../dist/client/', import.meta.url)]

/** A file `scripts/build-client.js` wrote, and the folder it was found in; undefined if not built. */
export async function readClientFile(name: string): Promise<{ body: Buffer; folder: URL } | undefined> {
  for (const folder of folders) {
    const body = await readFile(new URL(name, folder)).catch(() => undefined)
    if (body) return { body, folder }
  }
  return undefined
}
