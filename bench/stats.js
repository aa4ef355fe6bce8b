// Small numeric helpers; percentiles use the nearest-rank method on sorted data.

export function sorted(values) {
  return Float64Array.from(values).sort()
}

export function percentile(sortedValues, p) {
  if (sortedValues.length === 0) return NaN
  const rank = Math.ceil((p / 100) * sortedValues.length)
  return sortedValues[Math.min(sortedValues.length, Math.max(1, rank)) - 1]
}

export function median(values) {
  return percentile(sorted(values), 50)
}

export function summarize(sortedValues) {
  return {
    n: sortedValues.length,
    p50: percentile(sortedValues, 50),
    p99: percentile(sortedValues, 99),
    max: sortedValues.length ? sortedValues[sortedValues.length - 1] : NaN,
  }
}
