/**
 * The classic-script entry, served by the sidecar as `/client.js`:
 * `<script src="https://sidecar.example/client.js" data-version="BUILD_VERSION" defer></script>`.
 * It reads its own tag, then starts once the document is parsed, so it never delays the page.
 * Updates and up-to-date checks are dispatched on `window` as `deploy-notify:update` (its
 * `detail` carries `reload()`, `check()` and `dismiss()`) and `deploy-notify:current`. What
 * acts on an update (the origin check, the banner, Reload) loads on demand from `client-ui.js`
 * beside it.
 */
import type { UI } from '../on-demand/ui.js'
import { createNotifier } from './notifier.js'
import type { NotifierOptions } from './options.js'

const script = document.currentScript as HTMLScriptElement
const data = script.dataset
const dispatch = (type: string) => (detail: unknown) =>
  dispatchEvent(new CustomEvent(`deploy-notify:${type}`, { detail }))
// The script's own folder: where client-ui.js is, and the sidecar's base (so a proxy prefix just works).
const folder = new URL('.', script.src).href
// The tag's data attributes are the options, by the same names (`data-version-url`: `versionUrl`,
// `data-poll-interval` a number as text, which the notifier reads).
const notifier = createNotifier(
  {
    ...(data as unknown as NotifierOptions),
    // `none`: no sidecar.
    url: data.url ?? folder,
    onUpdate: dispatch('update'),
    onCurrent: dispatch('current'),
  },
  () => import(folder + 'client-ui.js') as Promise<UI>,
  'data-version',
)
if (document.readyState === 'loading') addEventListener('DOMContentLoaded', () => notifier.start())
else notifier.start()
