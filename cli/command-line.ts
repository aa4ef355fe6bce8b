import { parseArgs, type ParseArgsConfig } from 'node:util'

/** A command line the CLI cannot run: exit 2 with the message, as shells expect of usage errors. */
export class UsageError extends Error {
  override name = 'UsageError'
}

/** The sidecar cannot start as configured (unreadable state, a taken port): exit 1 with the message. */
export class StartError extends Error {
  override name = 'StartError'
}

const helpOption = { help: { type: 'boolean', short: 'h' } } as const
type Options = NonNullable<ParseArgsConfig['options']>
type Values<O extends Options> = ReturnType<
  typeof parseArgs<{ args: string[]; options: O & typeof helpOption; strict: true }>
>['values']

/**
 * Reads a command line strictly: an unknown or malformed flag is a UsageError ending with
 * the command's help. With `--help` the help is printed and the answer is undefined. The help
 * must name every flag in `options`.
 */
export function readCommandLine<O extends Options>(args: string[], options: O, help: string): Values<O> | undefined {
  // A flag the help leaves out is a bug in this package, caught by every run of the command.
  const unlisted = Object.keys(options).filter((name) => !new RegExp(`--${name}\\b`).test(help))
  if (unlisted.length > 0) throw new Error(`the help leaves out ${unlisted.map((name) => `--${name}`).join(', ')}`)
  let values: Values<O>
  try {
    values = parseArgs({ args, options: { ...options, ...helpOption }, strict: true }).values
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n\n${help}`)
  }
  if ((values as { help?: boolean }).help) {
    process.stdout.write(help)
    return undefined
  }
  return values
}
