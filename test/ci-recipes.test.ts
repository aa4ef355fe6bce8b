import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { beforeEach, describe, expect, it } from 'vitest'
import { getJson } from './helpers/http.js'
import { CLI, type Exit } from './helpers/process.js'
import { startTestSidecar, TOKEN, type TestSidecar } from './helpers/sidecar.js'

// The CI recipes of docs/build-and-ci.md are examples/ci/*.yml, included verbatim. Their deploy-notify steps run
// here as the CI runs them: in bash, in the checkout, with only the variables that CI provides,
// `npx deploy-notify` from the app's node_modules, against a live sidecar.
const REPO = fileURLToPath(new URL('../', import.meta.url))
const RECIPES = join(REPO, 'examples', 'ci')

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
      20_000,
    )
    child.on('close', (code, signal) => (clearTimeout(timer), resolve({ code, signal, stdout, stderr })))
  })
}

const INDEX_HTML = `<!doctype html>
<html lang="en">
  <head>
    <title>web</title>
    <script src="https://sidecar.example/client.js" defer></script>
    <script type="module" crossorigin src="/assets/index-BQ2xk1zM.js"></script>
  </head>
  <body><div id="app"></div></body>
</html>
`

/** The steps that are the app's own business; the test stands in for them with a built dist/. */
const APP_STEPS = ['npm ci', 'npm run build', './deploy.sh dist']

describe('the CI recipes', () => {
  let sidecar: TestSidecar
  let checkout: string

  // A fresh sidecar, and a checkout after `npm ci && npm run build`: deploy-notify installed as a devDependency, dist/ built.
  beforeEach(async () => {
    sidecar = await startTestSidecar()
    checkout = await mkdtemp(join(tmpdir(), 'deploy-notify-ci-'))
    await writeFile(
      join(checkout, 'package.json'),
      JSON.stringify({ name: 'web', version: '3.1.0', devDependencies: { 'deploy-notify': '^0.1.0' } }),
    )
    await mkdir(join(checkout, 'node_modules', '.bin'), { recursive: true })
    await symlink(REPO, join(checkout, 'node_modules', 'deploy-notify'))
    await symlink(
      join('..', 'deploy-notify', 'dist', 'cli', 'cli.js'),
      join(checkout, 'node_modules', '.bin', 'deploy-notify'),
    )
    await mkdir(join(checkout, 'dist'))
    await writeFile(join(checkout, 'dist', 'index.html'), INDEX_HTML)
    return async () => {
      await sidecar.close()
      await rm(checkout, { recursive: true, force: true })
    }
  })

  /** What every runner has: a PATH with node and npx, and a HOME. */
  const baseEnv = (): Record<string, string> => ({
    PATH: [dirname(process.execPath), '/usr/local/bin', '/usr/bin', '/bin'].join(':'),
    HOME: process.env.HOME ?? tmpdir(),
    CI: 'true',
  })

  /** Runs the recipe's deploy-notify steps in order and checks the app's own steps sit between them as they should. */
  async function runRecipe(
    all: Step[],
    env: Record<string, string>,
    contexts: Record<string, Record<string, string>> = {},
  ): Promise<void> {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run "npm run build" first (npm test does)`)
    const steps = all.filter((step) => step.script !== '') // \`uses:\` steps run no shell
    const ours = steps.filter((step) => step.script.includes('deploy-notify'))
    expect(steps.filter((step) => !ours.includes(step)).map((step) => step.script)).toEqual(APP_STEPS)
    const order = (text: string) => steps.findIndex((step) => step.script.includes(text))
    // Stamped before the upload, notified once the files are live.
    expect(order('npm run build')).toBeLessThan(order('deploy-notify stamp'))
    expect(order('deploy-notify stamp')).toBeLessThan(order('./deploy.sh'))
    expect(order('./deploy.sh')).toBeLessThan(order('deploy-notify notify'))
    // Installed first, as the app's devDependency, and run from there: npx --no never fetches a namesake.
    for (const step of ours) {
      expect(steps.indexOf(step)).toBeGreaterThan(order('npm ci'))
      expect(step.script).toMatch(/^npx --no deploy-notify /)
    }
    for (const step of ours) {
      expect(step.script, 'no ${{ }} inside run: it would be pasted into the shell unescaped').not.toContain('${{')
      const stepEnv = Object.fromEntries(
        Object.entries(step.env).map(([name, value]) => [name, expandExpressions(value, contexts)]),
      )
      const exit = await runStep(step.script, checkout, { ...baseEnv(), ...env, ...stepEnv })
      expect(exit.code, `${step.script}\n${exit.stdout}${exit.stderr}`).toBe(0)
    }
  }

  /** What the recipe left behind: a stamped build and a sidecar that announced it. */
  async function expectDeployed(version: string): Promise<void> {
    const html = await readFile(join(checkout, 'dist', 'index.html'), 'utf8')
    expect(html).toBe(
      INDEX_HTML.replace('client.js" defer>', `client.js" data-version="${version}" data-app="web" defer>`),
    )
    expect(JSON.parse(await readFile(join(checkout, 'dist', 'version.json'), 'utf8'))).toMatchObject({
      version,
      app: 'web',
      packageVersion: '3.1.0',
    })
    const current = await getJson(`${sidecar.url}/version?app=web`)
    expect(current.status).toBe(200)
    expect(current.json).toMatchObject({ app: 'web', version })
  }

  it('GitHub Actions: stamps and notifies with GITHUB_SHA, the token from secrets, the URL from vars', async () => {
    const steps = githubSteps(await readFile(join(RECIPES, 'github-actions.yml'), 'utf8'))
    const sha = 'f3c1a9e0b7d2c4e6a8b0c2d4e6f8a0b2c4d6e8f0'
    const env = {
      GITHUB_ACTIONS: 'true',
      GITHUB_SHA: sha,
      GITHUB_RUN_NUMBER: '41',
      GITHUB_WORKSPACE: checkout,
      GITHUB_REF_NAME: 'main',
    }
    await runRecipe(steps, env, { secrets: { DEPLOY_NOTIFY_TOKEN: TOKEN }, vars: { DEPLOY_NOTIFY_URL: sidecar.url } })
    await expectDeployed(sha)
  })

  it('GitLab CI: stamps and notifies with CI_COMMIT_SHORT_SHA, NOTIFY_TOKEN and DEPLOY_NOTIFY_URL from CI/CD variables', async () => {
    const steps = gitlabScript(await readFile(join(RECIPES, 'gitlab-ci.yml'), 'utf8'))
    const env = {
      GITLAB_CI: 'true',
      CI_COMMIT_SHA: '8d2e4f6a0b1c3d5e7f9a1b3c5d7e9f1a3b5c7d9e',
      CI_COMMIT_SHORT_SHA: '8d2e4f6a',
      CI_PIPELINE_IID: '42',
      CI_PROJECT_DIR: checkout,
      CI_COMMIT_BRANCH: 'main',
      NOTIFY_TOKEN: TOKEN,
      DEPLOY_NOTIFY_URL: sidecar.url,
    }
    await runRecipe(steps, env)
    await expectDeployed('8d2e4f6a')
  })

  it('docs/build-and-ci.md shows each recipe verbatim', async () => {
    const page = await readFile(join(REPO, 'docs', 'build-and-ci.md'), 'utf8')
    for (const name of ['github-actions.yml', 'gitlab-ci.yml']) {
      const recipe = await readFile(join(RECIPES, name), 'utf8')
      expect(
        page.includes(`\`\`\`yaml\n${recipe}\`\`\``),
        `docs/build-and-ci.md must include examples/ci/${name} verbatim in a yaml block`,
      ).toBe(true)
    }
  })
})
