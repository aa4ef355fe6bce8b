/**
 * The client files a static host serves for the script tag when there is no sidecar: the
 * classic script and the part it loads on demand, which work from any folder of the app as long
 * as they sit together (the script loads `client-ui.js` from its own folder). The build plugins
 * emit them into `deploy-notify-client/` of the build with `sidecar: 'none'`.
 */
import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { join } from 'node:path'

/** Their names, as the package exports them (`deploy-notify/client.js`, `deploy-notify/client-ui.js`). */
export const STATIC_CLIENT_FILES = ['client.js', 'client-ui.js'] as const

/** Where in the build the plugins put them. */
export const STATIC_CLIENT_FOLDER = 'deploy-notify-client/'

/**
 * The files' text, read from the package as the app at `root` has it installed, else as the
 * working folder does (resolved by name, so this works in the ES module and the CommonJS build
 * of the plugins alike).
 */
export async function readStaticClient(root: string): Promise<{ name: string; source: string }[]> {
  const resolve = (name: string): string => {
    const request = `deploy-notify/${name}`
    try {
      return createRequire(join(root, 'package.json')).resolve(request)
    } catch {
      return createRequire(join(process.cwd(), 'package.json')).resolve(request)
    }
  }
  return Promise.all(STATIC_CLIENT_FILES.map(async (name) => ({ name, source: await readFile(resolve(name), 'utf8') })))
}
