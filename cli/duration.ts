import { UsageError } from './command-line.js'

const durationUnits = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/** `500ms`, `30s`, `5m`, `1h`, `7d`, or a bare number of seconds; `flag` names the option in the error. */
export function parseDuration(raw: string, flag = '--timeout'): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(raw.trim())
  const ms = match ? Number(match[1]) * durationUnits[(match[2] ?? 's') as keyof typeof durationUnits] : NaN
  if (!(ms > 0)) throw new UsageError(`${flag} "${raw}" is not a duration such as 500ms, 30s, 5m, 1h or 7d`)
  return ms
}
