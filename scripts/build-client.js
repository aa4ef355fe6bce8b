// Builds the browser client: one classic script (served as /client.js) and one ES module
// (`deploy-notify/client`), minified, from the same source, and the apply part (served as
// /apply.js) that the classic script imports only when a page needs it. Prints the gzipped
// sizes and fails when the classic script is above the budget, since every page loads it.
import { build } from 'esbuild'
import { execFileSync } from 'node:child_process'
import { readFileSync, copyFileSync, mkdirSync } from 'node:fs'
import { gzipSync } from 'node:zlib'

const BUDGET_BYTES = 3 * 1024
const outdir = 'dist/client'
const common = { bundle: true, minify: true, target: 'es2020', legalComments: 'none', logLevel: 'warning' }

await build({ ...common, entryPoints: ['client/script.ts'], format: 'iife', outfile: `${outdir}/client.js` })
await build({ ...common, entryPoints: ['client/index.ts'], format: 'esm', outfile: `${outdir}/index.js` })
await build({ ...common, entryPoints: ['client/apply.ts'], format: 'esm', outfile: `${outdir}/apply.js` })
mkdirSync(outdir, { recursive: true })
copyFileSync('client/worker.js', `${outdir}/worker.js`)
// Declarations for the module, checked by the same compiler as the rest.
execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'client/tsconfig.json'], { stdio: 'inherit' })

const script = readFileSync(`${outdir}/client.js`)
const gzipped = gzipSync(script, { level: 9 }).length
console.log(`client.js: ${script.length} B minified, ${gzipped} B gzipped (budget ${BUDGET_BYTES} B)`)
const part = readFileSync(`${outdir}/apply.js`)
console.log(`apply.js: ${part.length} B minified, ${gzipSync(part, { level: 9 }).length} B gzipped (loaded on demand)`)
if (gzipped > BUDGET_BYTES) {
  console.error(`client.js is over its budget by ${gzipped - BUDGET_BYTES} B`)
  process.exit(1)
}
