/** A command line the CLI cannot run: exit 2 with the message, as shells expect of usage errors. */
export class UsageError extends Error {
  override name = 'UsageError'
}
