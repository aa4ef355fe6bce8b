/**
 * The classic-script entry, served by the sidecar as `/client.js`:
 * `<script src="https://sidecar.example/client.js" data-version="BUILD_VERSION" defer></script>`.
 * It reads its own tag, then starts once the document is parsed, so it never delays the page.
 * Updates and up-to-date checks are dispatched on `window` as `deploy-notify:update` and
 * `deploy-notify:current`.
 */
import { createNotifier, type NotifierOptions } from './notifier.js'

const script = document.currentScript as HTMLScriptElement | null
const data = script?.dataset

if (!data?.version) {
  console.warn('deploy-notify: no data-version on the script tag')
} else {
  const dispatch = (type: string) => (detail: unknown) =>
    dispatchEvent(new CustomEvent(`deploy-notify:${type}`, { detail }))
  const notifier = createNotifier({
    // Attributes pass through as written (data-ui, data-apply, data-apply-idle …): what reads them
    // compares strings or parses numbers itself.
    ...(data as unknown as NotifierOptions),
    // The sidecar's base: the script's own URL without `client.js`, so a proxy prefix just works.
    url: data.url ?? script!.src.replace(/client\.js([?#].*)?$/, ''),
    pollInterval: Number(data.pollInterval) || undefined,
    onUpdate: dispatch('update'),
    onCurrent: dispatch('current'),
  })
  if (document.readyState === 'loading') addEventListener('DOMContentLoaded', () => notifier.start())
  else notifier.start()
}
