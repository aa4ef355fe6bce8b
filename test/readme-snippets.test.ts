import { readFile } from 'node:fs/promises'
import { describe, expect, it } from 'vitest'

const read = (path: string) => readFile(new URL(`../${path}`, import.meta.url), 'utf8')

/**
 * The framework snippets of docs/frameworks.md are the files of the apps that test/vue-router.test.ts and
 * test/react-router.test.ts build and drive in Chromium: a snippet users copy must be code
 * that ran.
 */
const SNIPPETS = [
  'test/fixtures/vue-app/src/deploy-notify.ts',
  'test/fixtures/vue-app/src/router.ts',
  'test/fixtures/vue-app/src/UpdatePrompt.ts',
  'test/fixtures/react-app/src/Layout.tsx',
  'test/fixtures/react-app/src/UpdatePrompt.tsx',
]

describe('docs/frameworks.md', () => {
  it.each(SNIPPETS)('shows %s verbatim', async (path) => {
    const [page, source] = await Promise.all([read('docs/frameworks.md'), read(path)])
    expect(page).toContain(source.trim())
  })

  it('shows the React notifier as the Vue one, but for the import', async () => {
    const [vue, react] = await Promise.all([
      read('test/fixtures/vue-app/src/deploy-notify.ts'),
      read('test/fixtures/react-app/src/deploy-notify.ts'),
    ])
    expect(react).toBe(vue.replace("from 'deploy-notify/vue'", "from 'deploy-notify/react'"))
  })
})

/**
 * The build plugins' configs in README.md and docs/build-and-ci.md are the CommonJS app's that
 * test/ci-recipes.test.ts builds (and test/package.test.ts builds from the packed package).
 */
const CONFIGS = ['test/fixtures/ci-app/vite.config.js', 'test/fixtures/ci-app/webpack.config.js']

describe.each(['README.md', 'docs/build-and-ci.md'])('%s', (page) => {
  it.each(CONFIGS)('shows %s verbatim', async (path) => {
    const [text, source] = await Promise.all([read(page), read(path)])
    expect(text).toContain(`\`\`\`js\n${source}\`\`\``)
  })
})

describe('docs/client.md', () => {
  it("shows the module example that test/package.test.ts type-checks against the packed package's declarations", async () => {
    const [page, fixture] = await Promise.all([
      read('docs/client.md'),
      read('test/fixtures/package-consumer/module-api.mts'),
    ])
    const marker = '// docs/client.md shows what follows.\n'
    const body = fixture.slice(fixture.indexOf(marker) + marker.length, fixture.indexOf('\nexport { notifier }'))
    expect(page).toContain(`\`\`\`ts\n${body.trim()}\n\`\`\``)
  })

  it('shows the service-worker lines that deploy-notify/worker.js ships', async () => {
    const [page, worker] = await Promise.all([read('docs/client.md'), read('client/worker.js')])
    const listener = worker.slice(worker.indexOf('self.addEventListener'))
    expect(page).toContain(`\`\`\`js\n${listener}\`\`\``)
  })
})

describe('docs/scaling-out.md', () => {
  it("shows the replicas' upstream that nginx.conf has as a comment", async () => {
    const [page, conf] = await Promise.all([read('docs/scaling-out.md'), read('nginx.conf')])
    const servers = [...conf.matchAll(/^\s*#\s+(server 10\.[^;]+;)$/gm)].map((match) => `    ${match[1]}`)
    expect(servers).toHaveLength(2)
    expect(page).toContain(
      `upstream deploy_notify {\n${servers.join('\n')}\n    keepalive 16;\n    keepalive_timeout 4s;\n}`,
    )
  })
})

describe('docs/sidecar.md', () => {
  it('shows event data that follows the rules of every field', async () => {
    const { followsRule } = await import('../contract/fields.js')
    const page = await read('docs/sidecar.md')
    const [, json = ''] = /```json\n(.+)\n```/.exec(page) ?? []
    const data = JSON.parse(json) as Record<string, unknown>
    for (const [field, value] of Object.entries(data))
      expect(followsRule(field as Parameters<typeof followsRule>[0], value), field).toBe(true)
  })
})

describe('docs/deploying.md', () => {
  it("shows the Dockerfile's own build and run commands, with the volume it declares", async () => {
    const [page, dockerfile] = await Promise.all([read('docs/deploying.md'), read('Dockerfile')])
    const build = / Build: (.+)$/m.exec(dockerfile)?.[1]
    const run = /^# Run: (.+)$/m.exec(dockerfile)?.[1]
    expect(page).toContain(`\`\`\`sh\n${build}\n${run}\n\`\`\``)
    expect(run).toContain(':/data ')
    expect(dockerfile).toMatch(/^VOLUME \/data$/m)
  })
})
