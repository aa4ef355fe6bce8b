/** How reload times spread out: what the spread tests assert and print. */
export interface SpreadFigure {
  pages: number
  /** Milliseconds from the notify to the first and the last reload. */
  first: number
  last: number
  /** The most reloads that fell within any one second. */
  peakPerSecond: number
  /** Reloads per half second from the notify on, as `"0.0-0.5 s": n`. */
  histogram: Record<string, number>
}

/** Summarises reload moments, given in ms after the notify. */
export function spreadFigure(offsets: number[], binMs = 500): SpreadFigure {
  const sorted = [...offsets].sort((a, b) => a - b)
  let peak = 0
  for (let start = 0, end = 0; end < sorted.length; end++) {
    while (sorted[end]! - sorted[start]! >= 1000) start++
    peak = Math.max(peak, end - start + 1)
  }
  const histogram: Record<string, number> = {}
  for (const offset of sorted) {
    const bin = Math.floor(offset / binMs)
    const label = `${((bin * binMs) / 1000).toFixed(1)}-${(((bin + 1) * binMs) / 1000).toFixed(1)} s`
    histogram[label] = (histogram[label] ?? 0) + 1
  }
  return { pages: sorted.length, first: sorted[0] ?? NaN, last: sorted.at(-1) ?? NaN, peakPerSecond: peak, histogram }
}
