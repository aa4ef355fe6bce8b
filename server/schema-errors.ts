import type { FastifySchemaValidationError } from 'fastify/types/schema.js'

/** What a field must look like, in words, for the sentences of a 400. */
const rules: Record<string, string> = {
  app: 'must be 1-64 letters, digits, ".", "_" or "-"',
  version: 'must be 1-128 printable ASCII characters, without leading or trailing spaces',
  message: 'must be a string of at most 1000 characters',
  mandatory: 'must be true or false',
  sequence: `must be an integer from 0 to ${Number.MAX_SAFE_INTEGER}`,
}

/**
 * Turns the first schema error into one sentence that names the field, so CI logs say
 * `version must be ...` or `unknown field "verison"` rather than ajv's wording.
 */
export function schemaErrorFormatter(errors: FastifySchemaValidationError[], dataVar: string): Error {
  // "verison" is better reported as an unknown field than as a missing "version".
  const error = errors.find((e) => e.keyword === 'additionalProperties') ?? errors[0]
  if (!error) return new Error(`${dataVar} is invalid`)
  const params = error.params
  if (error.keyword === 'additionalProperties') {
    return new Error(`unknown field "${String(params.additionalProperty)}" in ${dataVar}`)
  }
  if (error.keyword === 'required') return new Error(`${dataVar} needs the field "${String(params.missingProperty)}"`)
  const field = error.instancePath.replace(/^\//, '').replaceAll('/', '.')
  if (field === '') return new Error(`${dataVar} must be a JSON object`)
  return new Error(`${field} ${rules[field] ?? error.message ?? 'is invalid'}`)
}
