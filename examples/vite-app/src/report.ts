import './report.css'

/**
 * The lazily loaded part of the app: one route's worth of code, in a chunk of its own. It
 * names the version, so its hashed file name changes with every build, as a chunk does when
 * its code changes.
 */
export function renderReport(target: HTMLElement): void {
  const heading = document.createElement('h2')
  heading.textContent = `Report of version ${import.meta.env.DEPLOY_NOTIFY_VERSION}`
  const body = document.createElement('p')
  body.className = 'report'
  body.textContent = 'Loaded on demand, from its own chunk.'
  target.replaceChildren(heading, body)
}
