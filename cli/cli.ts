#!/usr/bin/env node
import { readFileSync } from 'node:fs'
import { StartError, UsageError } from './command-line.js'
import { EXIT } from './exit-codes.js'

const help = `Usage: deploy-notify <command> [options]

Commands:
  serve         run the sidecar
  notify        announce a deploy from CI
  status        show each app's version, deploys and open pages by version
  wait-drained  wait until no open page runs a version (then old assets can go)
  stamp         write the version into a built app, and list its files for prune
  prune         delete from a web root the files only versions no open page runs need

Each command explains itself: deploy-notify <command> --help.

Options:
  -h, --help, help        show this help
  -v, --version, version  print the version

Through npx, use the words: npx --no deploy-notify help, npx --no deploy-notify version.
(npx reads a --help or --version that follows "--no deploy-notify" as its own.)

Exit codes: 0 done, 1 refused (bad state at start, a 4xx answer), 2 usage error,
3 sidecar unreachable, 4 timed out (wait-drained, notify --wait-live), 70 internal error.
`

/** Each command is loaded on use, so `notify` in CI does not load Fastify. `serve` resolves once listening. */
const commands: Record<string, () => Promise<(args: string[], env: NodeJS.ProcessEnv) => Promise<unknown>>> = {
  serve: async () => (await import('./serve-command.js')).serve,
  notify: async () => (await import('./notify-command.js')).notify,
  status: async () => (await import('./status-command.js')).status,
  'wait-drained': async () => (await import('./wait-drained-command.js')).waitDrained,
  stamp: async () => (await import('./stamp-command.js')).stamp,
  prune: async () => (await import('./prune-command.js')).prune,
}

/** Runs one command; resolves to the process exit code (or never, for a running server). */
async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv
  const load = command === undefined ? undefined : commands[command]
  if (load) {
    const code = await (await load())(args, process.env)
    return typeof code === 'number' ? code : 0
  }
  switch (command) {
    case '-v':
    case '--version':
    case 'version': {
      const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
        version: string
      }
      process.stdout.write(`${pkg.version}\n`)
      return EXIT.done
    }
    case '-h':
    case '--help':
    case 'help':
      process.stdout.write(help)
      return EXIT.done
    case undefined:
      throw new UsageError(`a command is needed\n\n${help}`)
    default:
      throw new UsageError(`unknown command "${command}"\n\n${help}`)
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (error: unknown) => {
    const known = error instanceof UsageError || error instanceof StartError
    process.stderr.write(`deploy-notify: ${known ? error.message : String((error as Error).stack ?? error)}\n`)
    process.exitCode =
      error instanceof UsageError ? EXIT.usage : error instanceof StartError ? EXIT.refused : EXIT.internal
  },
)
