import { cp, mkdir, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { stampDist } from '../../cli/stamp-command.js'

const INDEX = '<html><head><script src="/dn/client.js" defer></script></head><body></body></html>\n'

/**
 * A small build of app "web" as CI makes one: `version` with these files (and an index.html)
 * in `folder/dist-<version>`, stamped (`deploy-notify stamp`), then copied over the web root
 * `root` without deleting anything, as `prune` expects. `now` is the build's time.
 */
export async function deployStampedBuild(
  folder: string,
  root: string,
  version: string,
  files: Record<string, string>,
  now = new Date(Date.now() - 60_000),
): Promise<void> {
  const dist = join(folder, `dist-${version}`)
  for (const [path, text] of Object.entries({ 'index.html': INDEX, ...files })) {
    await mkdir(dirname(join(dist, path)), { recursive: true })
    await writeFile(join(dist, path), text)
  }
  await stampDist({ dist, version, app: 'web', now })
  await cp(dist, root, { recursive: true, force: true })
}
