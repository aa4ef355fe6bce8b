import { accessSync, constants } from 'node:fs'
import { delimiter, join } from 'node:path'

/** The first of `candidates`, then `name` on PATH, that is an executable file; undefined if none. */
export function findExecutable(name: string, candidates: (string | undefined)[] = []): string | undefined {
  const onPath = (process.env.PATH ?? '')
    .split(delimiter)
    .filter(Boolean)
    .map((dir) => join(dir, name))
  return [...candidates, ...onPath].find((path): path is string => {
    if (!path) return false
    try {
      accessSync(path, constants.X_OK)
      return true
    } catch {
      return false
    }
  })
}
