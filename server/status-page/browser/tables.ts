import type { AppStatus } from '../../../contract/status.js'
import { el, swatch, when } from './dom.js'

const tag = (text: string): HTMLElement => el('span', { class: 'tag' }, text)

/** The app's current version, when it was deployed, its open pages and its message. */
export function summary(app: AppStatus): HTMLElement {
  const c = app.current
  const item = (term: string, value: Node | string, cls?: string): HTMLElement =>
    el('div', {}, el('dt', {}, term), el('dd', { class: cls }, value))
  return el(
    'dl',
    {},
    item('Current version', c ? el('code', {}, c.version) : 'none yet'),
    item('Deployed', c ? when(c.time) : '–'),
    item('Open pages', String(app.pages.total)),
    // Pages that may be open elsewhere: never read as a drained version.
    app.pagesComplete === false
      ? item('Counts', `incomplete: ${app.pagesIncomplete ?? 'no reason given'}`, 'incomplete')
      : null,
    c?.message ? item('Message', c.message, 'message') : null,
  )
}

function table(
  caption: string,
  heads: [string, string?][],
  rows: HTMLElement[],
  foot: HTMLElement | null,
): HTMLElement {
  const head = heads.map(([text, cls]) => el('th', { scope: 'col', class: cls }, text))
  return el(
    'table',
    {},
    el('caption', {}, caption),
    el('thead', {}, el('tr', {}, ...head)),
    el('tbody', {}, ...rows),
    foot,
  )
}

export function pages(app: AppStatus): HTMLElement {
  const total = app.pages.total
  const current = app.current?.version
  const rows = Object.entries(app.pages.versions)
    .sort((a, b) => b[1] - a[1])
    .map(([v, n]) =>
      el(
        'tr',
        {},
        el('th', { scope: 'row' }, swatch(v), el('code', {}, v), v === current ? tag('current') : null),
        el('td', { class: 'n' }, String(n)),
        el('td', { class: 'n' }, `${Math.round((n / total) * 100)} %`),
      ),
    )
  if (rows.length === 0) rows.push(el('tr', {}, el('td', { colspan: 3, class: 'empty' }, 'No open pages')))
  const foot = el(
    'tfoot',
    {},
    el('tr', {}, el('td', {}, 'Total'), el('td', { class: 'n' }, String(total)), el('td', {})),
  )
  return table('Open pages by version', [['Version'], ['Pages', 'n'], ['Share', 'n']], rows, foot)
}

export function history(app: AppStatus): HTMLElement {
  const rows = app.history.map((d) =>
    el(
      'tr',
      {},
      el(
        'th',
        { scope: 'row' },
        el('code', {}, d.version),
        d.id === app.current?.id ? tag('current') : null,
        d.mandatory ? tag('mandatory') : null,
      ),
      el('td', {}, when(d.time)),
      el('td', {}, d.message ?? ''),
    ),
  )
  if (rows.length === 0) rows.push(el('tr', {}, el('td', { colspan: 3, class: 'empty' }, 'No deploys yet')))
  return table('Recent deploys', [['Version'], ['Deployed'], ['Message']], rows, null)
}
