// Builds the CommonJS entries of the build plugins, for configs that `require` them: a
// `webpack.config.js` with require(), and a `vite.config.js` in a package without
// "type": "module" (Vite bundles such a config to CommonJS and requires its imports). Node 20
// before 20.19 cannot require() an ES module at all. Each entry is one file with build-time/
// and contract/ bundled in (the bundlers stay the app's own), and its declarations beside it.
// `require('deploy-notify/vite')` is the plugin function itself, with `.default` and
// `.deployNotify` on it; `require('deploy-notify/webpack')` has `.DeployNotifyPlugin` and
// `.default`. The rest of the package (the sidecar, the CLI, the client module) is ESM only.
import { build } from 'esbuild'
import { readFileSync, writeFileSync } from 'node:fs'

const outdir = 'dist/build-time'
const ENTRIES = { 'vite-plugin': 'deployNotify', 'webpack-plugin': 'DeployNotifyPlugin' }

for (const [name, main] of Object.entries(ENTRIES)) {
  await build({
    entryPoints: [`build-time/${name}.ts`],
    outfile: `${outdir}/${name}.cjs`,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    packages: 'external',
    logLevel: 'warning',
    // The export users call is module.exports itself, so `const x = require(...)` and an
    // `import x from` that a bundler turns into require() both get it.
    footer: { js: `module.exports = Object.assign(module.exports.${main}, module.exports);` },
  })
}

// The declarations as CommonJS ones: the same text, importing the .d.cts beside them.
for (const name of ['vite-plugin', 'webpack-plugin', 'plugin-options', 'version-source']) {
  const text = readFileSync(`${outdir}/${name}.d.ts`, 'utf8')
  writeFileSync(`${outdir}/${name}.d.cts`, text.replace(/(from '\.\/[\w-]+)\.js'/g, "$1.cjs'"))
}
console.log(
  `build plugins for require(): ${Object.keys(ENTRIES)
    .map((name) => `${outdir}/${name}.cjs`)
    .join(', ')}`,
)
