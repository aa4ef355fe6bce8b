import { fileURLToPath } from 'node:url'
import { viteBuild } from './vite-build.js'

/** examples/vite-app: a page with a lazily loaded chunk, built with the Vite plugin. */
const EXAMPLE = fileURLToPath(new URL('../../examples/vite-app/', import.meta.url))
/** The app its vite.config.ts names. */
export const EXAMPLE_APP = 'example'

/** `vite build` of the example as a user runs it, in its own process, with the version from the environment. */
export function buildExample(version: string, outDir: string): Promise<void> {
  return viteBuild(EXAMPLE, outDir, { APP_VERSION: version })
}
