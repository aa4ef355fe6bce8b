import { PALETTE_SIZE } from './style.js'

/**
 * The status page's script, sent inline as it is (no build step, ES2020 for any current
 * browser). It holds one EventSource on `status/events`, relative to the page so a sidecar
 * behind a path prefix works, and renders every `status` event with DOM calls only: versions
 * and messages come from CI and from any page's query string, so none of them is ever parsed
 * as HTML.
 *
 * Written as a raw template: no backslash escapes, backticks or template substitutions below
 * except the one constant. Indentation and whole-line comments are dropped when it is sent.
 */
const source = String.raw`
'use strict'
const HOUR = 3600e3, MIN_SPAN = 60e3, PALETTE = ${PALETTE_SIZE}
const SVG = 'http://www.w3.org/2000/svg'
const list = document.getElementById('apps')
const state = document.getElementById('state')
const announce = document.getElementById('announce')
const sections = new Map() // app -> its section element
const charts = new Map()   // app -> { points: Map(t -> { versions, live }), sampled: newest sample's t }
const colours = new Map()  // version -> palette index, kept for the page's life
const currents = new Map() // app -> current version, to announce changes
let skew = 0               // the sidecar's clock minus this device's
let last                   // the latest status

function build(node, attrs, children) {
  for (const name of Object.keys(attrs || {})) if (attrs[name] != null) node.setAttribute(name, attrs[name])
  for (const child of children) if (child != null) node.append(child)
  return node
}
const el = (tag, attrs, ...children) => build(document.createElement(tag), attrs, children)
const svg = (tag, attrs, ...children) => build(document.createElementNS(SVG, tag), attrs, children)
const sum = (counts) => Object.values(counts).reduce((a, b) => a + b, 0)
const short = (v) => (v.length > 14 ? v.slice(0, 13) + '…' : v)

function ago(iso) {
  const s = Math.max(0, Math.round((Date.now() + skew - Date.parse(iso)) / 1000))
  if (s < 10) return 'just now'
  if (s < 60) return s + ' s ago'
  const m = Math.floor(s / 60)
  if (m < 60) return m + ' min ago'
  const h = Math.floor(m / 60)
  return h < 48 ? h + ' h ago' : Math.floor(h / 24) + ' days ago'
}
const when = (iso) => el('time', { datetime: iso, title: new Date(iso).toLocaleString() }, ago(iso))
const span = (ms) => (ms < 120e3 ? Math.round(ms / 1e3) + ' s' : Math.round(ms / 60e3) + ' min')

function colour(version) {
  if (!colours.has(version)) colours.set(version, colours.size % PALETTE)
  return 'c' + colours.get(version)
}
const swatch = (version) => el('span', { class: 'sw ' + colour(version), 'aria-hidden': 'true' })
const tag = (text) => el('span', { class: 'tag' }, text)

function update(status) {
  const time = Date.parse(status.time)
  skew = time - Date.now()
  last = status
  for (const [name, app] of Object.entries(status.apps)) {
    let chart = charts.get(name)
    if (!chart) charts.set(name, (chart = { points: new Map(), sampled: 0 }))
    for (const sample of app.samples) {
      chart.points.set(sample.t, { versions: sample.versions })
      chart.sampled = Math.max(chart.sampled, sample.t)
    }
    // Live points fill in after the newest sample; up to it, the samples are the record.
    for (const [t, point] of chart.points) if (t < time - HOUR || (point.live && t <= chart.sampled)) chart.points.delete(t)
    chart.points.set(time, { versions: app.pages.versions, live: true })
    const version = app.current && app.current.version
    if (currents.has(name) && version && currents.get(name) !== version) announce.textContent = name + ': ' + version + ' is deployed'
    currents.set(name, version)
  }
  render()
}

function render() {
  if (!last) return
  const names = Object.keys(last.apps)
  for (const [name, section] of sections) if (!Object.hasOwn(last.apps, name)) section.remove(), sections.delete(name)
  if (names.length === 0) {
    const hint = el('code', {}, 'npx deploy-notify notify --url URL --version V')
    return list.replaceChildren(el('p', { class: 'empty' }, 'No deploy and no open browser yet. Tell the sidecar about a deploy: ', hint))
  }
  for (const p of list.querySelectorAll(':scope > p')) p.remove()
  names.forEach((name, i) => {
    let section = sections.get(name)
    if (!section) sections.set(name, (section = el('section', { 'aria-labelledby': 'app-' + name })))
    if (list.children[i] !== section) list.insertBefore(section, list.children[i] || null)
    const app = last.apps[name]
    patch(section, [
      el('h2', { id: 'app-' + name }, name),
      summary(app),
      chart(name, app, Math.max(240, section.clientWidth - 32)),
      el('div', { class: 'tables' }, pages(app), history(app)),
    ])
  })
}

/** Replaces only the parts that changed, so a selection or a screen reader's place survives. */
function patch(parent, parts) {
  parts.forEach((part, i) => {
    const old = parent.children[i]
    if (!old) parent.append(part)
    else if (!old.isEqualNode(part)) old.replaceWith(part)
  })
}

function summary(app) {
  const c = app.current
  const item = (term, value, cls) => el('div', {}, el('dt', {}, term), el('dd', { class: cls }, value))
  return el('dl', {},
    item('Current version', c ? el('code', {}, c.version) : 'none yet'),
    item('Deployed', c ? when(c.time) : '–'),
    item('Open pages', String(app.pages.total)),
    c && c.message ? item('Message', c.message, 'message') : null)
}

function table(caption, heads, rows, foot) {
  const head = heads.map(([text, cls]) => el('th', { scope: 'col', class: cls }, text))
  return el('table', {}, el('caption', {}, caption), el('thead', {}, el('tr', {}, ...head)), el('tbody', {}, ...rows), foot)
}

function pages(app) {
  const total = app.pages.total
  const current = app.current && app.current.version
  const rows = Object.entries(app.pages.versions).sort((a, b) => b[1] - a[1]).map(([v, n]) => el('tr', {},
    el('th', { scope: 'row' }, swatch(v), el('code', {}, v), v === current ? tag('current') : null),
    el('td', { class: 'n' }, String(n)),
    el('td', { class: 'n' }, Math.round((n / total) * 100) + ' %')))
  if (rows.length === 0) rows.push(el('tr', {}, el('td', { colspan: 3, class: 'empty' }, 'No open pages')))
  const foot = el('tfoot', {}, el('tr', {}, el('td', {}, 'Total'), el('td', { class: 'n' }, String(total)), el('td', {})))
  return table('Open pages by version', [['Version'], ['Pages', 'n'], ['Share', 'n']], rows, foot)
}

function history(app) {
  const rows = app.history.map((d) => el('tr', {},
    el('th', { scope: 'row' }, el('code', {}, d.version),
      app.current && d.id === app.current.id ? tag('current') : null, d.mandatory ? tag('mandatory') : null),
    el('td', {}, when(d.time)),
    el('td', {}, d.message || '')))
  if (rows.length === 0) rows.push(el('tr', {}, el('td', { colspan: 3, class: 'empty' }, 'No deploys yet')))
  return table('Recent deploys', [['Version'], ['Deployed'], ['Message']], rows, null)
}

/** The smallest round whole number at or above n, for the top of the axis. */
function nice(n) {
  for (let p = 1; ; p *= 10) for (const m of [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8]) if (m * p >= n && Number.isInteger(m * p)) return m * p
}

/** Stacked areas of open pages by version, oldest point to now, with each deploy marked. */
function chart(name, app, width) {
  const points = [...charts.get(name).points].sort((a, b) => a[0] - b[0])
  const end = Date.parse(last.time)
  const start = Math.max(end - HOUR, Math.min(points[0][0], end - MIN_SPAN))
  const seen = new Set()
  for (const [, p] of points) for (const v of Object.keys(p.versions)) if (p.versions[v] > 0) seen.add(v)
  // The current version at the bottom, then older deploys, then versions CI never announced.
  const versions = [...new Set([...app.history.map((d) => d.version), ...seen])].filter((v) => seen.has(v))
  const totals = points.map(([, p]) => sum(p.versions))
  const top = nice(Math.max(1, ...totals))
  const H = width < 500 ? 150 : 180, L = 30, R = 8, T = 18, B = 20
  const x = (t) => +(L + ((t - start) / (end - start)) * (width - L - R)).toFixed(1)
  const y = (n) => +(T + (1 - n / top) * (H - T - B)).toFixed(1)
  const now = Object.entries(app.pages.versions).sort((a, b) => b[1] - a[1]).map(([v, n]) => v + ' ' + n)
  const label = 'Open pages by version over the last ' + span(end - start) + '. Now ' + app.pages.total +
    (now.length ? ': ' + now.join(', ') : '') + '. Highest total: ' + Math.max(0, ...totals) + '.'
  const g = svg('svg', { width, height: H, viewBox: '0 0 ' + width + ' ' + H, role: 'img', 'aria-label': label })
  for (const n of top % 2 ? [0, top] : [0, top / 2, top]) {
    g.append(svg('line', { class: 'axis', x1: L, x2: width - R, y1: y(n), y2: y(n) }),
      svg('text', { x: L - 6, y: y(n) + 4, 'text-anchor': 'end' }, String(n)))
  }
  const below = points.map(() => 0)
  for (const v of versions) {
    const upper = points.map(([, p], i) => below[i] + (p.versions[v] || 0))
    const edge = points.map(([t], i) => x(t) + ',' + y(upper[i]))
    const base = points.map(([t], i) => x(t) + ',' + y(below[i])).reverse()
    if (points.length > 1) g.append(svg('path', { class: 'area ' + colour(v), d: 'M' + edge.join('L') + 'L' + base.join('L') + 'Z' }))
    upper.forEach((n, i) => (below[i] = n))
  }
  let room = Infinity // left of the last label drawn; newest deploys first, so right to left
  for (const d of app.history) {
    const t = Date.parse(d.time)
    if (t < start || t > end) continue
    const name = short(d.version), half = name.length * 3.5 + 4
    const anchor = x(t) > width - 50 ? 'end' : x(t) < L + 40 ? 'start' : 'middle'
    g.append(svg('line', { class: 'deploy', x1: x(t), x2: x(t), y1: T - 4, y2: H - B }))
    if (x(t) + half > room) continue
    g.append(svg('text', { x: x(t), y: T - 7, 'text-anchor': anchor }, name))
    room = x(t) - half
  }
  for (const [t, text, anchor] of [[start, span(end - start) + ' ago', 'start'], [end, 'now', 'end']]) {
    g.append(svg('text', { x: x(t), y: H - 4, 'text-anchor': anchor }, text))
  }
  if (points.length < 2) g.append(svg('text', { x: width / 2, y: H / 2, 'text-anchor': 'middle' }, 'Collecting…'))
  const legend = el('ul', { class: 'legend', 'aria-hidden': 'true' }, ...versions.map((v) => el('li', {}, swatch(v), el('code', {}, v))))
  return el('figure', {}, el('figcaption', {}, 'Open pages by version, last ' + span(end - start)), g, legend)
}

function show(text, live) {
  state.textContent = text
  state.className = live ? 'live' : ''
}

function connect() {
  const source = new EventSource(new URL('status/events', location.href))
  source.addEventListener('open', () => show('Live', true))
  source.addEventListener('status', (event) => update(JSON.parse(event.data)))
  source.addEventListener('error', () => {
    if (source.readyState !== EventSource.CLOSED) return show('Reconnecting…', false)
    // EventSource gives up for good on an answer that is not a stream (the sidecar at its
    // limit, a proxy's 502 during a restart): try again later, as it would have.
    show('Offline, retrying…', false)
    setTimeout(connect, 5000 + Math.random() * 5000)
  })
}

setInterval(() => {
  for (const t of document.getElementsByTagName('time')) t.textContent = ago(t.dateTime)
}, 1000)
let resizing
addEventListener('resize', () => {
  clearTimeout(resizing)
  resizing = setTimeout(render, 150)
})
connect()
`

export const script = source
  .split('\n')
  .map((line) => line.trim())
  .filter((line) => line !== '' && !line.startsWith('//'))
  .join('\n')
