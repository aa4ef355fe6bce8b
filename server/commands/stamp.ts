import { UsageError } from './usage.js'

/** Placeholder: `deploy-notify stamp` is being built. */
export async function stamp(_args: string[], _env: NodeJS.ProcessEnv): Promise<number> {
  throw new UsageError('"stamp" is not available yet')
}
