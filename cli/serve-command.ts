import { flagName, loadConfig, settingHelp, settingNames, type SettingName } from '../server/config.js'
import { closeOnSignals, startSidecar } from '../server/main.js'
import { StartError, readCommandLine, UsageError } from './command-line.js'

/**
 * Why a start can fail, by the error's code: a setting is a usage error (exit 2), the rest
 * refuse to start (exit 1), each with one sentence and no stack. Anything else is a bug (70).
 */
const startFailures: Record<string, (message: string) => Error> = {
  DN_ERR_CONFIG: (message) => new UsageError(message),
  DN_ERR_STATE: (message) => new StartError(message),
  DN_ERR_DATA_DIR_IN_USE: (message) => new StartError(message),
  DN_ERR_REDIS_CERTIFICATE: (message) => new StartError(message),
  // Listening: a port that is taken or privileged, an address this host does not have or
  // cannot resolve.
  ...Object.fromEntries(
    ['EADDRINUSE', 'EACCES', 'EADDRNOTAVAIL', 'ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NONAME'].map((code) => [
      code,
      (message: string) => new StartError(`cannot listen: ${message}; choose another PORT or HOST`),
    ]),
  ),
}

/** Words of `text` in lines of at most `width` characters. */
function wrap(text: string, width: number): string[] {
  const lines: string[] = []
  for (const word of text.split(' ')) {
    const last = lines.at(-1)
    if (last !== undefined && last.length + 1 + word.length <= width) lines[lines.length - 1] = `${last} ${word}`
    else lines.push(word)
  }
  return lines
}

/** One line per setting of server/config.ts, so a setting added there is in the help at once. */
const options = [
  ...settingHelp().map(({ flag, value, text }) => ({ left: `--${flag} ${value}`, text })),
  { left: '-h, --help', text: 'show this help' },
]
const column = Math.max(...options.map((option) => option.left.length)) + 2

export const serveHelp = `Usage: deploy-notify serve [options]

Runs the sidecar. Every option is also read from the environment variable of the same name
in upper case (--keepalive-ms = KEEPALIVE_MS); a flag overrides the variable.

${options
  .map(({ left, text }) =>
    wrap(text, 94 - column)
      .map((line, i) => `  ${(i === 0 ? left : '').padEnd(column)}${line}`)
      .join('\n'),
  )
  .join('\n')}
`

/** `deploy-notify serve`: resolves once listening; exits the process on bad config or state. */
export async function serve(args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  const options = Object.fromEntries(settingNames.map((name) => [flagName(name), { type: 'string' as const }]))
  const values = readCommandLine(args, options, serveHelp)
  if (!values) return
  const flags: Partial<Record<SettingName, string>> = {}
  for (const name of settingNames) {
    const value = (values as Record<string, unknown>)[flagName(name)]
    if (typeof value === 'string') flags[name] = value
  }
  try {
    closeOnSignals(await startSidecar(loadConfig(env, flags)))
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? ''
    throw Object.hasOwn(startFailures, code) ? startFailures[code]!((error as Error).message) : error
  }
}
