// Builds the browser client: one classic script (served as /client.js), one ES module
// (`deploy-notify/client`), minified, from the same source, and the framework helpers
// (`deploy-notify/vue`, `/react`, `/react-router`) as modules of their own that import the
// client module and the framework rather than bundle them, so the classic script never grows. Prints the classic script's
// gzipped size and fails above the budget, since every page of every app loads it.
import { build } from 'esbuild'
import { execFileSync } from 'node:child_process'
import { readFileSync, copyFileSync, mkdirSync } from 'node:fs'
import { gzipSync } from 'node:zlib'

const BUDGET_BYTES = 3 * 1024
const outdir = 'dist/client'
const common = { bundle: true, minify: true, target: 'es2020', legalComments: 'none', logLevel: 'warning' }

await build({ ...common, entryPoints: ['client/script.ts'], format: 'iife', outfile: `${outdir}/client.js` })
await build({ ...common, entryPoints: ['client/index.ts'], format: 'esm', outfile: `${outdir}/index.js` })
// The helpers share the app's copy of the framework and of the client module.
const FRAMEWORKS = ['vue', 'vue-router', 'react', 'react-router']
const clientModule = {
  name: 'client-module',
  setup(build) {
    build.onResolve({ filter: /^\.\/index\.js$/ }, () => ({ path: './index.js', external: true }))
  },
}
await build({
  ...common,
  entryPoints: ['client/vue.ts', 'client/react.ts', 'client/react-router.ts'],
  format: 'esm',
  outdir,
  external: FRAMEWORKS,
  plugins: [clientModule],
})
mkdirSync(outdir, { recursive: true })
copyFileSync('client/worker.js', `${outdir}/worker.js`)
// Declarations for the module, checked by the same compiler as the rest.
execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'client/tsconfig.json'], { stdio: 'inherit' })

const script = readFileSync(`${outdir}/client.js`)
const gzipped = gzipSync(script, { level: 9 }).length
console.log(`client.js: ${script.length} B minified, ${gzipped} B gzipped (budget ${BUDGET_BYTES} B)`)
if (gzipped > BUDGET_BYTES) {
  console.error(`client.js is over its budget by ${gzipped - BUDGET_BYTES} B`)
  process.exit(1)
}
