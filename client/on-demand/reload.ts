/** How long Reload waits for a new service worker to install, and then to take control. */
const WORKER_WAIT_MS = 3000

/** Asks the page's service worker to look for an update, so it is waiting by the time the user decides. */
export const updateWorker = (): Promise<unknown> | undefined =>
  navigator.serviceWorker
    ?.getRegistration()
    .then((registration) => registration?.update())
    .catch(() => {})

/** The waiting worker, once an installing one has installed (bounded). */
const waitingWorker = (registration: ServiceWorkerRegistration): Promise<ServiceWorker | null> =>
  new Promise((resolve) => {
    const installing = registration.installing
    if (registration.waiting || !installing) return resolve(registration.waiting)
    setTimeout(() => resolve(registration.waiting), WORKER_WAIT_MS)
    installing.addEventListener('statechange', () => installing.state !== 'installing' && resolve(registration.waiting))
  })

/**
 * Reloads into the new version, or loads `href` (a link `auto` took over). With a waiting
 * service worker (or one `update` is about to install) it first asks it to take over
 * (`SKIP_WAITING`, Workbox's convention) and loads once the page's controller changed, or
 * after a bound, because the old worker would keep serving the old files; otherwise at once.
 */
export async function reloadPage(update?: Promise<unknown>, href?: string): Promise<void> {
  const load = () => (href === undefined ? location.reload() : location.assign(href))
  const workers = navigator.serviceWorker
  // The update asked for with the prompt may still be fetching the new worker (seconds, in Chromium).
  await Promise.race([update, new Promise((resolve) => setTimeout(resolve, WORKER_WAIT_MS))])
  const registration = await workers?.getRegistration().catch(() => undefined)
  const waiting = registration && workers.controller && (await waitingWorker(registration))
  if (!waiting) return load()
  let reloaded = false
  const reload = () => {
    if (!reloaded) load()
    reloaded = true
  }
  workers.addEventListener('controllerchange', reload)
  setTimeout(reload, WORKER_WAIT_MS)
  waiting.postMessage({ type: 'SKIP_WAITING' })
}
