import { UsageError } from './usage.js'

/** Placeholder: `deploy-notify wait-drained` is being built. */
export async function waitDrained(_args: string[], _env: NodeJS.ProcessEnv): Promise<number> {
  throw new UsageError('"wait-drained" is not available yet')
}
