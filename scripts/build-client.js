// Builds the browser scripts. The client: the classic script every page loads (served as /client.js), the
// part it loads on demand once another version may be live (/client-ui.js: the origin check,
// banner, texts, Reload's service-worker hand-over, the apply policy), and one ES module (`deploy-notify/client`) with both, minified,
// from the same source. The framework helpers (`deploy-notify/vue`, `/react`, `/react-router`)
// are modules of their own that import the client module and the framework rather than bundle
// them, so the classic script never grows. The sidecar serves the scripts pre-compressed: brotli
// and gzip files beside each. Prints the gzipped sizes and fails above the budget, since every
// page of every app loads the classic script. And the status page's script
// (`server/status-page/browser/`), which the sidecar inlines into its page.
import { build } from 'esbuild'
import { minify } from 'terser'
import { execFileSync } from 'node:child_process'
import { readFileSync, copyFileSync, mkdirSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { brotliCompressSync, constants, gzipSync } from 'node:zlib'

// Gzipped budgets per group of client/: what every page loads (core) stays below workbox-window
// (2,355 B), the smallest peer runtime; what loads once another version may be live (on
// demand), and each framework helper an app imports, have budgets of their own.
const BUDGETS = {
  core: { files: ['client.js'], bytes: 2355 },
  'on-demand': { files: ['client-ui.js'], bytes: 5000 },
  frameworks: { files: ['frameworks/vue.js', 'frameworks/react.js', 'frameworks/react-router.js'], bytes: 1024 },
}
const outdir = 'dist/client'
const common = { bundle: true, minify: true, target: 'es2020', legalComments: 'none', logLevel: 'warning' }

// esbuild bundles and minifies; terser then finds what esbuild leaves (about 100 B gzipped of
// the classic script, which every page loads).
const terser = async (code) =>
  (await minify(code, { module: true, ecma: 2020, compress: { passes: 2, unsafe_arrows: true, pure_getters: true } }))
    .code
// The classic script: the function around it keeps its names out of the page's global scope.
const classic = await build({ ...common, entryPoints: ['client/core/script.ts'], format: 'esm', write: false })
mkdirSync(outdir, { recursive: true })
writeFileSync(`${outdir}/client.js`, `"use strict";(()=>{${await terser(classic.outputFiles[0].text)}})();\n`)
await build({ ...common, entryPoints: ['client/on-demand/ui.ts'], format: 'esm', outfile: `${outdir}/client-ui.js` })
// The module: what acts on an update is a chunk of its own (dynamically imported), so the app's
// bundler splits it off and its first bundle carries only the core.
// ES2022: the app's bundler lowers class fields to its own target, so no helper of ours lands
// in the chunk both parts share.
const module = await build({
  ...common,
  entryPoints: ['client/index.ts'],
  format: 'esm',
  target: 'es2022',
  splitting: true,
  outdir,
  chunkNames: 'chunks/[name]-[hash]',
  write: false,
})
for (const file of module.outputFiles) {
  mkdirSync(dirname(file.path), { recursive: true })
  writeFileSync(file.path, await terser(file.text))
}
// The status page's script, which the sidecar inlines into the page under a CSP hash.
await build({
  ...common,
  entryPoints: ['server/status-page/browser/status-page.ts'],
  format: 'iife',
  outfile: `${outdir}/status-page.js`,
})
// The helpers share the app's copy of the framework and of the client module.
const FRAMEWORKS = ['vue', 'vue-router', 'react', 'react-router']
const clientModule = {
  name: 'client-module',
  setup(build) {
    build.onResolve({ filter: /^\.\.\/index\.js$/ }, () => ({ path: '../index.js', external: true }))
  },
}
await build({
  ...common,
  entryPoints: ['client/frameworks/vue.ts', 'client/frameworks/react.ts', 'client/frameworks/react-router.ts'],
  format: 'esm',
  outdir: `${outdir}/frameworks`,
  external: FRAMEWORKS,
  plugins: [clientModule],
})
copyFileSync('client/worker.js', `${outdir}/worker.js`)
// Declarations for the module, checked by the same compiler as the rest.
execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'client/tsconfig.json'], { stdio: 'inherit' })
console.log(
  `status-page.js: ${readFileSync(`${outdir}/status-page.js`).length} B minified, inlined into the status page`,
)

const sizes = {}
for (const name of ['client.js', 'client-ui.js']) {
  const script = readFileSync(`${outdir}/${name}`)
  const gzipped = gzipSync(script, { level: 9 })
  const brotli = brotliCompressSync(script, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } })
  writeFileSync(`${outdir}/${name}.gz`, gzipped)
  writeFileSync(`${outdir}/${name}.br`, brotli)
  sizes[name] = gzipped.length
  console.log(`${name}: ${script.length} B minified, ${gzipped.length} B gzipped, ${brotli.length} B brotli`)
}
console.log(
  `every page loads client.js: ${sizes['client.js']} B gzipped; ` +
    `with an update shown, also client-ui.js: ${sizes['client.js'] + sizes['client-ui.js']} B in all`,
)
let over = false
for (const [group, { files, bytes }] of Object.entries(BUDGETS)) {
  const each = files.map((name) => [
    name,
    sizes[name] ?? gzipSync(readFileSync(`${outdir}/${name}`), { level: 9 }).length,
  ])
  console.log(`${group}: ${each.map(([name, size]) => `${name} ${size} B`).join(', ')} (budget ${bytes} B each)`)
  for (const [name, size] of each.filter(([, size]) => size > bytes)) {
    console.error(`${name} (${group}) is over its budget by ${size - bytes} B`)
    over = true
  }
}
if (over) process.exit(1)
