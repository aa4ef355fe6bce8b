/** A command line the CLI cannot run: exit 2 with the message, as shells expect of usage errors. */
export class UsageError extends Error {
  override name = 'UsageError'
}

/** The sidecar cannot start as configured (unreadable state, a taken port): exit 1 with the message. */
export class StartError extends Error {
  override name = 'StartError'
}
