import { execFileSync, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { chmod, cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readBuiltVersion } from '../build-time/built-version.js'
import { stampDist } from '../cli/stamp-command.js'
import { banner, CHROMIUM, runningVersion, useBrowser } from './helpers/browser.js'
import { fileTree } from './helpers/file-tree.js'
import { getJson } from './helpers/http.js'
import { findNginx, startNginx } from './helpers/nginx.js'
import { CLI, type Exit } from './helpers/process.js'
import { startTestSidecar, TOKEN } from './helpers/sidecar.js'
import { viteBuild } from './helpers/vite-build.js'

// The CI recipes of docs/build-and-ci.md are examples/ci/*, included verbatim: for GitHub Actions,
// GitLab CI and a plain shell deploy, one for a build that `deploy-notify stamp` stamps and one
// for a build that a plugin stamps (Vite, webpack or Rspack). Each runs here end to end as its
// CI would run it: every step in bash, in a git checkout of the app, with only the variables
// that CI provides. Version 1 of the app is live behind nginx (nginx.conf) with a page open in
// Chromium; the recipe builds, deploys and announces version 2, and the page shows the banner.
// The app's own npm steps are stood in for by an `npm` on PATH (`npm ci`: installed already;
// `npm run build`: the build of the checked-out commit, made once per file), and `./deploy.sh`
// by a copy into nginx's root.
const REPO = fileURLToPath(new URL('../', import.meta.url))
const RECIPES = join(REPO, 'examples', 'ci')
const FIXTURE = join(REPO, 'test', 'fixtures', 'ci-app')

type Setup = 'stamp' | 'vite' | 'webpack'
type Runner = 'github' | 'gitlab' | 'shell'

/** Each recipe, how its CI runs it, and the builds it is for. */
const RECIPE_FILES: { file: string; runner: Runner; setups: Setup[] }[] = [
  { file: 'github-actions.yml', runner: 'github', setups: ['stamp'] },
  { file: 'github-actions-plugin.yml', runner: 'github', setups: ['vite', 'webpack'] },
  { file: 'gitlab-ci.yml', runner: 'gitlab', setups: ['stamp'] },
  { file: 'gitlab-ci-plugin.yml', runner: 'gitlab', setups: ['vite', 'webpack'] },
  { file: 'shell-deploy.sh', runner: 'shell', setups: ['stamp'] },
  { file: 'shell-deploy-plugin.sh', runner: 'shell', setups: ['vite', 'webpack'] },
]

/** The app without a build plugin: its index.html names the client, and stamp fills in the rest. */
const STATIC_INDEX = `<!doctype html>
<html lang="en">
  <head>
    <title>web</title>
    <script src="/deploy-notify/client.js" data-app="web" defer></script>
  </head>
  <body><p>web</p></body>
</html>
`

/** One step of a job: its shell text and the variables its own `env:` adds. */
interface Step {
  script: string
  env: Record<string, string>
}

const indentOf = (line: string): number => /^ */.exec(line)![0].length
const meaningful = (line: string): boolean => line.trim() !== '' && !line.trim().startsWith('#')

/**
 * The `steps:` of a GitHub Actions job: `run:` as one line or a `|` block, and `env:` maps.
 * Only the YAML these recipes use; anything else fails here rather than being misread.
 */
function githubSteps(yaml: string): Step[] {
  const lines = yaml.split('\n')
  const start = lines.findIndex((line) => /^\s*steps:\s*$/.test(line))
  if (start === -1) throw new Error('no steps:')
  const itemIndent = indentOf(lines.find((line, i) => i > start && meaningful(line))!)
  const steps: (Step & { run?: string })[] = []
  let block: { key: string; indent: number } | undefined
  for (const line of lines.slice(start + 1)) {
    if (!meaningful(line)) continue
    const indent = indentOf(line)
    if (indent < itemIndent) break
    let text = line.trim()
    if (indent === itemIndent) {
      if (!text.startsWith('- ')) throw new Error(`unexpected line in steps: ${line}`)
      steps.push({ script: '', env: {} })
      text = text.slice(2)
      block = undefined
    } else if (block && indent > block.indent) {
      const step = steps.at(-1)!
      if (block.key === 'env') {
        const [, name, value] = /^(\w+):\s*(.+)$/.exec(text) ?? []
        if (!name || value === undefined) throw new Error(`unexpected env line: ${line}`)
        step.env[name] = value
      } else if (block.key === 'run') {
        step.script += `${line.slice(block.indent + 2)}\n`
      }
      continue
    }
    const [, key, value = ''] = /^([\w-]+):\s*(.*)$/.exec(text) ?? []
    if (!key) throw new Error(`unexpected line in a step: ${line}`)
    const keyIndent = indent === itemIndent ? itemIndent + 2 : indent
    if (value === '' || value === '|') block = { key, indent: keyIndent }
    else if (key === 'run') steps.at(-1)!.script = value
  }
  return steps.map(({ script, env }) => ({ script: script.trimEnd(), env }))
}

/** The `script:` lines of a GitLab CI job, each run as it is. */
function gitlabScript(yaml: string): Step[] {
  const lines = yaml.split('\n')
  const start = lines.findIndex((line) => /^\s+script:\s*$/.test(line))
  if (start === -1) throw new Error('no script:')
  const scriptIndent = indentOf(lines[start]!)
  const steps: Step[] = []
  for (const line of lines.slice(start + 1)) {
    if (!meaningful(line)) continue
    if (indentOf(line) <= scriptIndent) break
    const item = /^\s*- (.+)$/.exec(line)?.[1]
    if (item === undefined) throw new Error(`unexpected line in script: ${line}`)
    steps.push({ script: item, env: {} })
  }
  return steps
}

/** GitHub replaces `${{ secrets.X }}` and `${{ vars.X }}` before the step starts; nothing else is expected. */
function expandExpressions(value: string, contexts: Record<string, Record<string, string>>): string {
  return value.replace(/\$\{\{\s*(\w+)\.(\w+)\s*\}\}/g, (expression, context: string, name: string) => {
    const found = contexts[context]?.[name]
    if (found === undefined) throw new Error(`the test does not provide ${expression}`)
    return found
  })
}

/** Runs a step as the runners do (`bash --noprofile --norc -eo pipefail`), with exactly `env`. */
function runStep(script: string, cwd: string, env: Record<string, string>): Promise<Exit> {
  const child = spawn('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', script], {
    cwd,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => (child.kill('SIGKILL'), reject(new Error(`step did not finish: ${script}\n${stdout}${stderr}`))),
      30_000,
    )
    child.on('close', (code, signal) => (clearTimeout(timer), resolve({ code, signal, stdout, stderr })))
  })
}

/** The steps of a recipe file, as its runner would run them. */
async function recipeSteps(file: string, runner: Runner): Promise<Step[]> {
  const text = await readFile(join(RECIPES, file), 'utf8')
  if (runner === 'github') return githubSteps(text).filter((step) => step.script !== '') // `uses:` steps run no shell
  if (runner === 'gitlab') return gitlabScript(text)
  return [{ script: text, env: {} }]
}

const git = (cwd: string, ...args: string[]): string =>
  execFileSync('git', ['-c', 'user.name=CI', '-c', 'user.email=ci@example.com', ...args], {
    cwd,
    encoding: 'utf8',
  }).trim()

/** `node webpack.config.js`'s way: the app's own require()-based config, in a process of its own. */
function webpackBuild(checkout: string): Promise<void> {
  const script = `require('webpack')(require('./webpack.config.js'), (error, stats) => {
    if (error || stats.hasErrors()) { console.error(error ?? stats.toString('errors-only')); process.exit(1) }
  })`
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', script], { cwd: checkout, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`webpack exited ${code}:\n${output}`))))
  })
}

const nginxBinary = findNginx()
const missing = [...(nginxBinary ? [] : ['nginx']), ...(existsSync(CHROMIUM) ? [] : [`chromium (${CHROMIUM})`])]
if (missing.length > 0 && !process.env.CI)
  console.warn(`\n!!! ${missing.join(' and ')} not found: SKIPPING the CI recipes end to end (CI fails instead) !!!\n`)

describe.skipIf(missing.length > 0 && !process.env.CI)('the CI recipes, end to end', () => {
  const browser = useBrowser()
  let folder = ''
  let checkout = ''
  /** The commits of version 1 and version 2, full and short. */
  const commits: { full: string; short: string }[] = []
  /** The unstamped or plugin-stamped build of each setup at each commit. */
  const builds = (setup: Setup, commit: number) => join(folder, 'builds', `${setup}-${commits[commit]!.full}`)

  // One checkout of the app with two commits, each built once per setup: what `npm run build` gives.
  beforeAll(async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run "npm run build" first (npm test does)`)
    folder = await mkdtemp(join(tmpdir(), 'deploy-notify-ci-'))
    await chmod(folder, 0o755) // nginx's workers run as nobody
    checkout = join(folder, 'checkout')
    await cp(FIXTURE, checkout, { recursive: true })
    // No "type": the package is CommonJS, as npm init writes it.
    await writeFile(
      join(checkout, 'package.json'),
      JSON.stringify({ name: 'web', version: '3.1.0', private: true, devDependencies: { 'deploy-notify': '^0.1.0' } }),
    )
    await writeFile(join(checkout, '.gitignore'), 'node_modules\ndist\n')
    // What npm ci installed: deploy-notify (this checkout, built) and the app's bundlers.
    await mkdir(join(checkout, 'node_modules', '.bin'), { recursive: true })
    await symlink(REPO, join(checkout, 'node_modules', 'deploy-notify'))
    await symlink(
      join('..', 'deploy-notify', 'dist', 'cli', 'cli.js'),
      join(checkout, 'node_modules', '.bin', 'deploy-notify'),
    )
    for (const name of ['vite', 'webpack', 'html-webpack-plugin'])
      await symlink(join(REPO, 'node_modules', name), join(checkout, 'node_modules', name))
    git(checkout, 'init', '-q')
    git(checkout, 'add', '.')
    git(checkout, 'commit', '-q', '-m', 'version 1')
    git(checkout, 'commit', '-q', '--allow-empty', '-m', 'version 2')
    for (const ref of ['HEAD~1', 'HEAD']) {
      const full = git(checkout, 'rev-parse', ref)
      commits.push({ full, short: git(checkout, 'rev-parse', '--short', ref) })
    }
    // One after the other: the machine running the tests is busy enough.
    for (const [index, commit] of commits.entries()) {
      git(checkout, 'checkout', '-q', commit.full)
      await mkdir(builds('stamp', index), { recursive: true })
      await writeFile(join(builds('stamp', index), 'index.html'), STATIC_INDEX)
      await viteBuild(checkout, builds('vite', index), {})
      await webpackBuild(checkout)
      await cp(join(checkout, 'dist'), builds('webpack', index), { recursive: true })
      await rm(join(checkout, 'dist'), { recursive: true })
    }
    git(checkout, 'checkout', '-q', commits[1]!.full)
  }, 120_000)

  afterAll(async () => {
    if (folder) await rm(folder, { recursive: true, force: true })
  })

  /** What every runner has, plus the stand-ins: a PATH with them, node, npx and git, and a HOME. */
  async function runnerEnv(setup: Setup, webRoot: string): Promise<Record<string, string>> {
    const bin = join(folder, 'bin')
    await mkdir(bin, { recursive: true })
    await writeFile(
      join(bin, 'npm'),
      `#!/bin/sh
case "$*" in
  ci) exit 0 ;;
  "run build") rm -rf dist && cp -R "${folder}/builds/${setup}-$(git rev-parse HEAD)" dist ;;
  *) echo "npm $* is not stood in for" >&2; exit 1 ;;
esac
`,
      { mode: 0o755 },
    )
    await writeFile(join(checkout, 'deploy.sh'), `#!/bin/sh\nset -e\ncp -R "$1"/. "${webRoot}"/\n`, { mode: 0o755 })
    return {
      PATH: [bin, dirname(process.execPath), '/usr/local/bin', '/usr/bin', '/bin'].join(':'),
      HOME: process.env.HOME ?? tmpdir(),
      CI: 'true',
    }
  }

  /** The variables each CI provides for the commit being deployed, and the version its recipe announces. */
  function ciVariables(
    runner: Runner,
    setup: Setup,
    urls: { sidecar: string; app: string; webRoot: string },
  ): { env: Record<string, string>; contexts: Record<string, Record<string, string>>; version: string } {
    const commit = commits[1]!
    const byPlugin = setup !== 'stamp'
    if (runner === 'github')
      return {
        env: {
          GITHUB_ACTIONS: 'true',
          GITHUB_SHA: commit.full,
          GITHUB_RUN_NUMBER: '42',
          GITHUB_WORKSPACE: checkout,
          GITHUB_REF_NAME: 'main',
        },
        contexts: { secrets: { DEPLOY_NOTIFY_TOKEN: TOKEN }, vars: { DEPLOY_NOTIFY_URL: urls.sidecar } },
        version: byPlugin ? commit.short : commit.full,
      }
    if (runner === 'gitlab')
      return {
        env: {
          GITLAB_CI: 'true',
          CI_COMMIT_SHA: commit.full,
          CI_COMMIT_SHORT_SHA: commit.full.slice(0, 8),
          CI_PIPELINE_IID: '42',
          CI_PROJECT_DIR: checkout,
          CI_COMMIT_BRANCH: 'main',
          NOTIFY_TOKEN: TOKEN,
          DEPLOY_NOTIFY_URL: urls.sidecar,
        },
        contexts: {},
        version: byPlugin ? commit.short : commit.full.slice(0, 8),
      }
    return {
      env: { NOTIFY_TOKEN: TOKEN, DEPLOY_NOTIFY_URL: urls.sidecar, WEB_ROOT: urls.webRoot, APP_URL: `${urls.app}/` },
      contexts: {},
      version: commit.short,
    }
  }

  const cases = RECIPE_FILES.flatMap(({ file, runner, setups }) => setups.map((setup) => ({ file, runner, setup })))

  it.each(cases)(
    '$file with a $setup build: version 2 is announced as built, and the open page shows the banner',
    async ({ file, runner, setup }) => {
      const steps = await recipeSteps(file, runner)
      if (runner !== 'shell') checkOrder(steps, setup)
      const sidecar = await startTestSidecar()
      const webRoot = await mkdtemp(join(folder, 'www-'))
      const nginx = await startNginx(nginxBinary!, { root: webRoot, upstream: `127.0.0.1:${sidecar.port}` })
      try {
        // Version 1 is live and announced, and a page runs it.
        await cp(builds(setup, 0), webRoot, { recursive: true })
        if (setup === 'stamp') await stampDist({ dist: webRoot, version: commits[0]!.short, app: 'web' })
        const live = (await readBuiltVersion(webRoot))!
        const announced = await fetch(`${sidecar.url}/notify`, {
          method: 'POST',
          headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
          body: JSON.stringify({ app: live.app, version: live.version }),
        })
        expect(announced.status).toBe(202)
        const page = await browser.open(`${nginx.url}/`)
        expect(await runningVersion(page)).toBe(live.version)

        // The recipe, as its CI runs it.
        const ci = ciVariables(runner, setup, { sidecar: sidecar.url, app: nginx.url, webRoot })
        const base = { ...(await runnerEnv(setup, webRoot)), ...ci.env }
        for (const step of steps) {
          expect(step.script, 'no ${{ }} inside run: it would be pasted into the shell unescaped').not.toContain('${{')
          const stepEnv = Object.fromEntries(
            Object.entries(step.env).map(([name, value]) => [name, expandExpressions(value, ci.contexts)]),
          )
          const exit = await runStep(step.script, checkout, { ...base, ...stepEnv })
          expect(exit.code, `${step.script}\n${exit.stdout}${exit.stderr}`).toBe(0)
        }

        // One version from build to banner: the build's version.json, the sidecar and the page agree.
        const built = (await readBuiltVersion(join(checkout, 'dist')))!
        expect(built).toMatchObject({ version: ci.version, app: 'web' })
        expect((await getJson(`${sidecar.url}/version?app=web`)).json).toMatchObject({
          app: 'web',
          version: ci.version,
        })
        await banner(page).waitFor({ timeout: 10_000 })
      } finally {
        await nginx.stop()
        await sidecar.close()
      }
    },
    60_000,
  )

  it.each(['vite', 'webpack'] as const)(
    'stamp on a %s build changes nothing for its version, and names the plugin for another',
    async (setup) => {
      const dist = join(folder, `restamp-${setup}`)
      await cp(builds(setup, 1), dist, { recursive: true })
      const before = await fileTree(dist)
      const same = await runCliIn(checkout, ['stamp', '--dist', dist, '--app', 'web'])
      expect(same.stdout).toBe(`deploy-notify: already stamped: app "web" version "${commits[1]!.short}" in ${dist}\n`)
      expect(same.code).toBe(0)
      const other = await runCliIn(checkout, ['stamp', '--dist', dist, '--app', 'web', '--version', commits[1]!.full])
      expect(other.code).toBe(1)
      expect(other.stderr).toContain(
        `says this build was already stamped with version "${commits[1]!.short}", not "${commits[1]!.full}": most likely by the deploy-notify/vite or deploy-notify/webpack plugin`,
      )
      expect(await fileTree(dist)).toEqual(before)
    },
  )

  it('docs/build-and-ci.md shows each recipe verbatim', async () => {
    const page = await readFile(join(REPO, 'docs', 'build-and-ci.md'), 'utf8')
    for (const { file } of RECIPE_FILES) {
      const recipe = await readFile(join(RECIPES, file), 'utf8')
      const fence = file.endsWith('.sh') ? 'sh' : 'yaml'
      expect(
        page.includes(`\`\`\`${fence}\n${recipe}\`\`\``),
        `docs/build-and-ci.md must include examples/ci/${file} verbatim in a ${fence} block`,
      ).toBe(true)
    }
  })
})

/** The CLI run in `cwd` (stamp's default version is the git commit there). */
function runCliIn(cwd: string, args: string[]): Promise<Exit> {
  const child = spawn(process.execPath, [CLI, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  return new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })))
}

/**
 * The order a CI recipe must keep: installed first and run from there (npx --no), built, stamped
 * (without a plugin) before the upload, announced once the files are live, and announced as built.
 */
function checkOrder(steps: Step[], setup: Setup): void {
  const order = (text: string) => steps.findIndex((step) => step.script.includes(text))
  const stamp = order('deploy-notify stamp')
  expect(stamp === -1, 'a stamp step only where no plugin stamps the build').toBe(setup !== 'stamp')
  if (stamp !== -1) {
    expect(order('npm run build')).toBeLessThan(stamp)
    expect(stamp).toBeLessThan(order('./deploy.sh'))
  }
  expect(order('./deploy.sh')).toBeLessThan(order('deploy-notify notify'))
  for (const step of steps.filter((s) => s.script.includes('deploy-notify'))) {
    expect(steps.indexOf(step)).toBeGreaterThan(order('npm ci'))
    expect(step.script).toMatch(/^npx --no deploy-notify /)
  }
  const notify = steps[order('deploy-notify notify')]!.script
  expect(notify, 'notify announces what was built').toContain('--dist dist')
  expect(notify).not.toContain('--version')
}
