/**
 * The rules every field of a deploy follows, wherever it enters: the JSON schema of
 * `POST /notify` and `/events`, what the stores read back, `stamp`, the build plugins and the
 * CLI. Each rule keeps CR, LF and NUL out of everything that reaches the SSE encoder or a
 * metrics label, and says itself in words for error messages.
 */
export const fields = {
  app: {
    schema: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,64}$' },
    rule: 'must be 1-64 letters, digits, ".", "_" or "-"',
  },
  version: {
    // Printable ASCII, no leading or trailing space.
    schema: { type: 'string', minLength: 1, maxLength: 128, pattern: '^[!-~](?:[ -~]*[!-~])?$' },
    rule: 'must be 1-128 printable ASCII characters, without leading or trailing spaces',
  },
  message: {
    // A message is shown, never parsed: any text but line breaks and NUL, which no banner needs.
    schema: { type: 'string', maxLength: 1000 },
    rule: 'must be a string of at most 1000 characters',
  },
  notesUrl: {
    // A link the banner shows as "What's new": http(s) only (never javascript:), printable ASCII
    // (non-ASCII percent-encoded, as URL.href writes it), and none of the " < > \ ` that would
    // let it break out of an attribute in apps that render it as HTML text.
    schema: { type: 'string', maxLength: 2048, pattern: '^https?://[A-Za-z0-9\\[][!#-;=?-\\[\\]-_a-~]*$' },
    rule: 'must be an http:// or https:// URL of at most 2048 characters, with no spaces, quotes, <, >, backslashes or non-ASCII characters (percent-encode them)',
  },
  mandatory: { schema: { type: 'boolean' }, rule: 'must be true or false' },
  sequence: {
    schema: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
    rule: `must be an integer from 0 to ${Number.MAX_SAFE_INTEGER}`,
  },
} as const

export type FieldName = keyof typeof fields

export const appSchema = fields.app.schema
export const versionSchema = fields.version.schema

/** Whether `value` follows the rule of field `name`, checked as the schema checks it. */
export function followsRule(name: FieldName, value: unknown): boolean {
  const schema: {
    type: string
    pattern?: string
    minLength?: number
    maxLength?: number
    minimum?: number
    maximum?: number
  } = fields[name].schema
  switch (schema.type) {
    case 'boolean':
      return typeof value === 'boolean'
    case 'integer':
      return (
        Number.isSafeInteger(value) &&
        (value as number) >= (schema.minimum ?? -Infinity) &&
        (value as number) <= (schema.maximum ?? Infinity)
      )
    default:
      return (
        typeof value === 'string' &&
        value.length >= (schema.minLength ?? 0) &&
        value.length <= (schema.maxLength ?? Infinity) &&
        (schema.pattern === undefined || new RegExp(schema.pattern).test(value))
      )
  }
}
