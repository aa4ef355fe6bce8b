import type { Deploy } from '../../contract/deploy.js'
import { fields, followsRule, type FieldName } from '../../contract/fields.js'

/**
 * Every field of a Deploy, in the order the sidecar writes them. A Record over `keyof Deploy`,
 * so a field added to the type and not here fails to compile instead of vanishing on restart.
 */
const deployFields: Record<keyof Deploy, 'required' | 'optional'> = {
  app: 'required',
  version: 'required',
  id: 'required',
  time: 'required',
  message: 'optional',
  notesUrl: 'optional',
  mandatory: 'optional',
  sequence: 'optional',
}

/**
 * A deploy read back from storage (`state.json`, a Redis key or message), checked by the same
 * table of field rules `POST /notify` uses, so nothing that never passed them reaches a stream:
 * an `id` with a newline would otherwise start a forged event on every open page. Only the
 * known fields are copied; a field a newer sidecar added is dropped, not passed on unchecked.
 * Returns the deploy, or a sentence naming the first field that breaks its rule.
 */
export function storedDeploy(value: unknown): Deploy | string {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'a deploy must be a JSON object'
  const record = value as Record<string, unknown>
  const deploy: Record<string, unknown> = {}
  for (const [name, presence] of Object.entries(deployFields) as [FieldName, 'required' | 'optional'][]) {
    if (!Object.hasOwn(record, name) || record[name] === undefined) {
      if (presence === 'required') return `the deploy has no "${name}"`
      continue
    }
    if (!followsRule(name, record[name])) return `its ${name} ${fields[name].rule}`
    deploy[name] = record[name]
  }
  return deploy as unknown as Deploy
}
