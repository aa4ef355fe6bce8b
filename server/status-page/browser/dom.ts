import { PALETTE_SIZE } from '../palette.js'

/**
 * Small builders for the page's DOM. Versions and messages come from CI and from any page's
 * query string, so they only ever become text nodes and attribute values, never parsed HTML.
 */
type Attributes = Record<string, string | number | undefined>
type Child = Node | string | null | undefined

const SVG = 'http://www.w3.org/2000/svg'

function build<E extends Element>(node: E, attrs: Attributes, children: Child[]): E {
  for (const [name, value] of Object.entries(attrs)) if (value !== undefined) node.setAttribute(name, String(value))
  for (const child of children) if (child !== null && child !== undefined) node.append(child)
  return node
}

export const el = (tag: string, attrs: Attributes, ...children: Child[]): HTMLElement =>
  build(document.createElement(tag), attrs, children)
export const svg = (tag: string, attrs: Attributes, ...children: Child[]): SVGElement =>
  build(document.createElementNS(SVG, tag), attrs, children)

let skew = 0 // the sidecar's clock minus this device's

/** Sets how far the sidecar's clock is ahead of this device's, so "ago" counts from its time. */
export function setServerTime(time: number): void {
  skew = time - Date.now()
}

export function ago(iso: string): string {
  const s = Math.max(0, Math.round((Date.now() + skew - Date.parse(iso)) / 1000))
  if (s < 10) return 'just now'
  if (s < 60) return `${s} s ago`
  const m = Math.floor(s / 60)
  if (m < 60) return `${m} min ago`
  const h = Math.floor(m / 60)
  return h < 48 ? `${h} h ago` : `${Math.floor(h / 24)} days ago`
}
export const when = (iso: string): HTMLElement =>
  el('time', { datetime: iso, title: new Date(iso).toLocaleString() }, ago(iso))
export const span = (ms: number): string => (ms < 120e3 ? `${Math.round(ms / 1e3)} s` : `${Math.round(ms / 60e3)} min`)

const colours = new Map<string, number>() // version -> palette index, kept for the page's life

export function colour(version: string): string {
  let index = colours.get(version)
  if (index === undefined) colours.set(version, (index = colours.size % PALETTE_SIZE))
  return `c${index}`
}
export const swatch = (version: string): HTMLElement =>
  el('span', { class: `sw ${colour(version)}`, 'aria-hidden': 'true' })
