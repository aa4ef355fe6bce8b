import { ConfigError, flagName, loadConfig, settingNames, type SettingName } from '../server/config.js'
import { closeOnSignals, startSidecar } from '../server/main.js'
import { StoreError } from '../server/store/store.js'
import { StartError, readCommandLine, UsageError } from './command-line.js'

export const serveHelp = `Usage: deploy-notify serve [options]

Runs the sidecar. Every option is also read from the environment variable of the same name
in upper case (--keepalive-ms = KEEPALIVE_MS); a flag overrides the variable.

  --port N              listen port; 0 = any free port (default 8080)
  --host ADDRESS        listen address (default 0.0.0.0)
  --notify-token TOKEN  bearer token for POST /notify, at least 16 characters
                        (default unset: notify from loopback only; prefer the variable)
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
    if (error instanceof ConfigError) throw new UsageError(error.message)
    if (error instanceof StoreError) throw new StartError(error.message)
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') {
      throw new StartError(`cannot listen: ${(error as Error).message}; choose another PORT or HOST`)
    }
    throw error
  }
}
