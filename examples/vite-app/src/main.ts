import './main.css'

const version = import.meta.env.DEPLOY_NOTIFY_VERSION

const main = document.querySelector<HTMLElement>('#app')!
main.innerHTML = `
  <h1>deploy-notify example</h1>
  <p>This page runs version <strong data-testid="version"></strong>.</p>
  <button type="button" id="open-report">Open the report</button>
  <section id="report" aria-live="polite"></section>
`
main.querySelector('[data-testid="version"]')!.textContent = version

const report = main.querySelector<HTMLElement>('#report')!
main.querySelector('#open-report')!.addEventListener('click', () => void openReport())

async function openReport(): Promise<void> {
  try {
    // A chunk of its own, with a hashed name that changes with every version: after a deploy
    // the old one is gone, and this import fails. deploy-notify sees Vite's vite:preloadError
    // and shows its banner, so the page only has to say what did not work.
    const { renderReport } = await import('./report.ts')
    renderReport(report)
  } catch {
    report.textContent = 'The report could not be loaded.'
  }
}

// The worker only answers SKIP_WAITING here, so that Reload can hand over to a new one.
if ('serviceWorker' in navigator) {
  navigator.serviceWorker
    .register('/sw.js')
    .catch((error: unknown) => console.warn('service worker not registered', error))
}
