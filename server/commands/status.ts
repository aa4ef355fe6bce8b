import { UsageError } from './usage.js'

/** Placeholder: `deploy-notify status` is being built. */
export async function status(_args: string[], _env: NodeJS.ProcessEnv): Promise<number> {
  throw new UsageError('"status" is not available yet')
}
