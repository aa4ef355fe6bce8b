import { createHash } from 'node:crypto'

/** A strong ETag from the content itself, so every replica and restart gives the same one. */
export const etagOf = (body: string | Buffer): string =>
  `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`

/**
 * Whether `If-None-Match` names this tag. It may list several, weak or strong, or `*`
 * (RFC 9110 13.1.2); a proxy that compresses turns strong tags weak.
 */
export function matchesEtag(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false
  return header.split(',').some((tag) => {
    const t = tag.trim()
    return t === '*' || t === etag || t === `W/${etag}`
  })
}
