/** The content codings the sidecar serves its scripts in, best first. */
export const ENCODINGS = ['br', 'gzip', 'identity'] as const
export type Encoding = (typeof ENCODINGS)[number]

/**
 * The coding to answer with, from `Accept-Encoding` (RFC 9110 12.5.3): the one with the highest
 * weight among br and gzip, brotli on a tie, else identity. A coding with `q=0` is refused, and
 * `*` stands for any coding not named. No header means no preference: identity.
 */
export function chooseEncoding(header: string | undefined): Encoding {
  const weights = new Map<string, number>()
  for (const part of (header ?? '').toLowerCase().split(',')) {
    const [name = '', ...parameters] = part.split(';').map((s) => s.trim())
    const q = parameters.find((p) => p.startsWith('q='))
    if (name) weights.set(name, q === undefined ? 1 : Number(q.slice(2)) || 0)
  }
  const weight = (coding: string): number => weights.get(coding) ?? weights.get('*') ?? 0
  const br = weight('br')
  const gzip = weight('gzip')
  if (br > 0 && br >= gzip) return 'br'
  return gzip > 0 ? 'gzip' : 'identity'
}
