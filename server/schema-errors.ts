import type { FastifySchemaValidationError } from 'fastify/types/schema.js'
import { fields } from '../contract/fields.js'

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
  const rule = Object.hasOwn(fields, field) ? fields[field as keyof typeof fields].rule : error.message
  return new Error(`${field} ${rule ?? 'is invalid'}`)
}
