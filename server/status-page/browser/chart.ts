import type { AppStatus, VersionCounts } from '../../../contract/status.js'
import { colour, el, span, svg, swatch } from './dom.js'

const HOUR = 3600e3
const MIN_SPAN = 60e3

interface Point {
  versions: VersionCounts
  /** Counted at a `status` event, not sampled: replaced by the samples once they reach it. */
  live?: boolean
}
interface Series {
  points: Map<number, Point>
  /** The newest sample's time. */
  sampled: number
}
const charts = new Map<string, Series>() // app -> its points of the last hour

/** Adds a `status` event's samples and live counts of an app to its chart, dropping what is over an hour old. */
export function record(name: string, app: AppStatus, time: number): void {
  let chart = charts.get(name)
  if (!chart) charts.set(name, (chart = { points: new Map(), sampled: 0 }))
  for (const sample of app.samples) {
    chart.points.set(sample.t, { versions: sample.versions })
    chart.sampled = Math.max(chart.sampled, sample.t)
  }
  // Live points fill in after the newest sample; up to it, the samples are the record.
  for (const [t, point] of chart.points) {
    if (t < time - HOUR || (point.live && t <= chart.sampled)) chart.points.delete(t)
  }
  chart.points.set(time, { versions: app.pages.versions, live: true })
}

const sum = (counts: VersionCounts): number => Object.values(counts).reduce((a, b) => a + b, 0)
const short = (v: string): string => (v.length > 14 ? `${v.slice(0, 13)}…` : v)

/** The smallest round whole number at or above n, for the top of the axis. */
function nice(n: number): number {
  for (let p = 1; ; p *= 10) {
    for (const m of [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8]) if (m * p >= n && Number.isInteger(m * p)) return m * p
  }
}

/** Stacked areas of open pages by version, oldest point to `end`, with each deploy marked. */
export function chart(name: string, app: AppStatus, end: number, width: number): HTMLElement {
  const points = [...(charts.get(name)?.points ?? [])].sort((a, b) => a[0] - b[0])
  const start = Math.max(end - HOUR, Math.min(points[0]?.[0] ?? end, end - MIN_SPAN))
  const seen = new Set<string>()
  for (const [, p] of points) for (const [v, n] of Object.entries(p.versions)) if (n > 0) seen.add(v)
  // The current version at the bottom, then older deploys, then versions CI never announced.
  const versions = [...new Set([...app.history.map((d) => d.version), ...seen])].filter((v) => seen.has(v))
  const totals = points.map(([, p]) => sum(p.versions))
  const top = nice(Math.max(1, ...totals))
  const [H, L, R, T, B] = [width < 500 ? 150 : 180, 30, 8, 18, 20]
  const x = (t: number): number => +(L + ((t - start) / (end - start)) * (width - L - R)).toFixed(1)
  const y = (n: number): number => +(T + (1 - n / top) * (H - T - B)).toFixed(1)
  const now = Object.entries(app.pages.versions)
    .sort((a, b) => b[1] - a[1])
    .map(([v, n]) => `${v} ${n}`)
  const label =
    `Open pages by version over the last ${span(end - start)}. Now ${app.pages.total}` +
    `${now.length ? `: ${now.join(', ')}` : ''}. Highest total: ${Math.max(0, ...totals)}.`
  const g = svg('svg', { width, height: H, viewBox: `0 0 ${width} ${H}`, role: 'img', 'aria-label': label })
  for (const n of top % 2 ? [0, top] : [0, top / 2, top]) {
    g.append(
      svg('line', { class: 'axis', x1: L, x2: width - R, y1: y(n), y2: y(n) }),
      svg('text', { x: L - 6, y: y(n) + 4, 'text-anchor': 'end' }, String(n)),
    )
  }
  const below = points.map(() => 0)
  for (const v of versions) {
    const upper = points.map(([, p], i) => (below[i] ?? 0) + (p.versions[v] ?? 0))
    const edge = points.map(([t], i) => `${x(t)},${y(upper[i] ?? 0)}`)
    const base = points.map(([t], i) => `${x(t)},${y(below[i] ?? 0)}`).reverse()
    if (points.length > 1) {
      g.append(svg('path', { class: `area ${colour(v)}`, d: `M${edge.join('L')}L${base.join('L')}Z` }))
    }
    upper.forEach((n, i) => (below[i] = n))
  }
  let room = Infinity // left of the last label drawn; newest deploys first, so right to left
  for (const d of app.history) {
    const t = Date.parse(d.time)
    if (t < start || t > end) continue
    const name = short(d.version)
    const half = name.length * 3.5 + 4
    const anchor = x(t) > width - 50 ? 'end' : x(t) < L + 40 ? 'start' : 'middle'
    g.append(svg('line', { class: 'deploy', x1: x(t), x2: x(t), y1: T - 4, y2: H - B }))
    if (x(t) + half > room) continue
    g.append(svg('text', { x: x(t), y: T - 7, 'text-anchor': anchor }, name))
    room = x(t) - half
  }
  const ends: [number, string, string][] = [
    [start, `${span(end - start)} ago`, 'start'],
    [end, 'now', 'end'],
  ]
  for (const [t, text, anchor] of ends) g.append(svg('text', { x: x(t), y: H - 4, 'text-anchor': anchor }, text))
  if (points.length < 2) g.append(svg('text', { x: width / 2, y: H / 2, 'text-anchor': 'middle' }, 'Collecting…'))
  const legend = el(
    'ul',
    { class: 'legend', 'aria-hidden': 'true' },
    ...versions.map((v) => el('li', {}, swatch(v), el('code', {}, v))),
  )
  return el('figure', {}, el('figcaption', {}, `Open pages by version, last ${span(end - start)}`), g, legend)
}
