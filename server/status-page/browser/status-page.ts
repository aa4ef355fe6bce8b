/**
 * The status page's script, inlined into the page by `page.ts` once built (`npm run build`,
 * esbuild, ES2020 for any current browser). It holds one EventSource on `status/events`,
 * relative to the page so a sidecar behind a path prefix works, and renders every `status`
 * event with DOM calls only (`dom.ts`).
 */
import type { Status } from '../../../contract/status.js'
import { chart, record } from './chart.js'
import { ago, el, setServerTime } from './dom.js'
import { history, pages, summary } from './tables.js'

const byId = (id: string): HTMLElement => document.getElementById(id) ?? document.body
const list = byId('apps')
const state = byId('state')
const announce = byId('announce')
const sections = new Map<string, HTMLElement>() // app -> its section element
const currents = new Map<string, string | undefined>() // app -> current version, to announce changes
let last: Status | undefined // the latest status

function update(status: Status): void {
  const time = Date.parse(status.time)
  setServerTime(time)
  last = status
  for (const [name, app] of Object.entries(status.apps)) {
    record(name, app, time)
    const version = app.current?.version
    if (currents.has(name) && version && currents.get(name) !== version) {
      announce.textContent = `${name}: ${version} is deployed`
    }
    currents.set(name, version)
  }
  render()
}

function render(): void {
  if (!last) return
  const { apps } = last
  const end = Date.parse(last.time)
  const names = Object.keys(apps)
  for (const [name, section] of sections) {
    if (!Object.hasOwn(apps, name)) {
      section.remove()
      sections.delete(name)
    }
  }
  if (names.length === 0) {
    const hint = el('code', {}, 'npx deploy-notify notify --url URL --version V')
    const text = 'No deploy and no open browser yet. Tell the sidecar about a deploy: '
    list.replaceChildren(el('p', { class: 'empty' }, text, hint))
    return
  }
  for (const p of list.querySelectorAll(':scope > p')) p.remove()
  names.forEach((name, i) => {
    let section = sections.get(name)
    if (!section) sections.set(name, (section = el('section', { 'aria-labelledby': `app-${name}` })))
    if (list.children[i] !== section) list.insertBefore(section, list.children[i] ?? null)
    const app = apps[name]
    if (!app) return
    patch(section, [
      el('h2', { id: `app-${name}` }, name),
      summary(app),
      chart(name, app, end, Math.max(240, section.clientWidth - 32)),
      el('div', { class: 'tables' }, pages(app), history(app)),
    ])
  })
}

/** Replaces only the parts that changed, so a selection or a screen reader's place survives. */
function patch(parent: Element, parts: Element[]): void {
  parts.forEach((part, i) => {
    const old = parent.children[i]
    if (!old) parent.append(part)
    else if (!old.isEqualNode(part)) old.replaceWith(part)
  })
}

function show(text: string, live: boolean): void {
  state.textContent = text
  state.className = live ? 'live' : ''
}

function connect(): void {
  const source = new EventSource(new URL('status/events', location.href))
  source.addEventListener('open', () => show('Live', true))
  source.addEventListener('status', (event) => update(JSON.parse((event as MessageEvent<string>).data) as Status))
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
let resizing: ReturnType<typeof setTimeout> | undefined
addEventListener('resize', () => {
  clearTimeout(resizing)
  resizing = setTimeout(render, 150)
})
connect()
