/**
 * Every command's exit codes, in one table so that help texts, README and scripts agree.
 * 70 is sysexits' EX_SOFTWARE: a bug, not the user's input.
 */
export const EXIT = {
  /** Done: accepted, shown, drained, stamped. */
  done: 0,
  /** Refused: bad state, a 4xx answer, an unknown app. */
  refused: 1,
  /** A command line the command cannot run. */
  usage: 2,
  /** No answer from the sidecar (network errors or 5xx until the timeout). */
  unreachable: 3,
  /** The awaited state did not come before --timeout. */
  timeout: 4,
  internal: 70,
} as const

export type ExitCode = (typeof EXIT)[keyof typeof EXIT]
