import { describe, expect, it } from 'vitest'
import { flagName, settingNames } from '../server/config.js'
import { runCli } from './helpers/process.js'

// Each command checks, on every run, that its help names every flag it takes (cli/command-line.ts):
// a flag the help leaves out makes the command fail with exit 70, so running each help is the test.
const COMMANDS = ['serve', 'notify', 'status', 'wait-drained', 'stamp', 'prune']

describe('--help', () => {
  it.each(COMMANDS)('%s --help lists every flag it takes, with exit 0', async (command) => {
    const exit = await runCli([command, '--help'])
    expect(exit.stderr).toBe('')
    expect(exit.code).toBe(0)
    expect(exit.stdout).toMatch(new RegExp(`^Usage: deploy-notify ${command} `))
  })

  it('serve --help names every setting of server/config.ts, from its one table', async () => {
    const { stdout } = await runCli(['serve', '--help'])
    for (const name of settingNames) expect(stdout).toMatch(new RegExp(`^  --${flagName(name)} [A-Z]+ `, 'm'))
    for (const flag of ['--redis-url URL', '--request-timeout-ms N', '--stream-lifetime-ms N'])
      expect(stdout).toContain(flag)
  })

  it('help and version also work as words, which npx --no passes on', async () => {
    const pkg = (await import('../package.json', { with: { type: 'json' } })).default as { version: string }
    for (const word of ['help', '--help', '-h']) {
      const exit = await runCli([word])
      expect(exit.code).toBe(0)
      expect(exit.stdout).toMatch(/^Usage: deploy-notify <command>/)
    }
    for (const word of ['version', '--version', '-v']) expect((await runCli([word])).stdout).toBe(`${pkg.version}\n`)
  })
})
