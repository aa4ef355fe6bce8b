import { flagName, loadConfig, settingNames, type SettingName } from '../server/config.js'
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
  // Listening: a port that is taken or privileged, an address this host does not have or
  // cannot resolve.
  ...Object.fromEntries(
    ['EADDRINUSE', 'EACCES', 'EADDRNOTAVAIL', 'ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NONAME'].map((code) => [
      code,
      (message: string) => new StartError(`cannot listen: ${message}; choose another PORT or HOST`),
    ]),
  ),
}

export const serveHelp = `Usage: deploy-notify serve [options]

Runs the sidecar. Every option is also read from the environment variable of the same name
in upper case (--keepalive-ms = KEEPALIVE_MS); a flag overrides the variable.

  --port N              listen port; 0 = any free port (default 8080)
  --host ADDRESS        listen address (default 0.0.0.0)
  --notify-token TOKEN  bearer token for POST /notify, at least 16 characters
                        (default unset: a token generated into DATA_DIR/notify-token,
                        which "deploy-notify notify" on this host reads; prefer the variable)
  --cors-origins LIST   comma-separated origins allowed to subscribe (default *)
  --keepalive-ms N      interval of keepalive comments (default 15000)
  --retry-ms N          reconnection delay hinted to browsers (default 3000)
  --data-dir DIR        where the current version per app is kept (default ./data)
  --max-connections N   open streams beyond this get 503 (default 90% of the open-file limit)
  -h, --help            show this help
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
