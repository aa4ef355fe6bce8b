import type { ApplyTexts } from './apply-texts.js'
import { showBanner } from './banner.js'
import type { BannerOptions, Deploy, Texts } from '../core/deploy.js'

/**
 * The "What's new" link of a deploy, or undefined unless `notesUrl` is an http(s) URL (a
 * `javascript:` URL from a careless notify must never become a link). It opens in a new tab,
 * with `rel=noopener` so that page cannot reach back into this one.
 */
export function notesLink(deploy: Deploy, texts: ApplyTexts): HTMLAnchorElement | undefined {
  let url: URL
  try {
    url = new URL(deploy.notesUrl ?? '', location.href)
  } catch {
    return
  }
  if (!deploy.notesUrl || !/^https?:$/.test(url.protocol)) return
  const link = document.createElement('a')
  link.href = url.href
  link.target = '_blank'
  link.rel = 'noopener'
  link.textContent = texts.notes
  link.style.color = 'inherit'
  return link
}

/**
 * The note after a reload into `deploy`: "Updated — its message", its "What's new" link, and one
 * button that closes it; in the banner's look and place (it is the banner with other words).
 */
export function showNote(deploy: Deploy, texts: Partial<Texts> & ApplyTexts, options: BannerOptions): () => void {
  const message = deploy.message ? `${texts.updated} — ${deploy.message}` : texts.updated
  const link = notesLink(deploy, texts)
  const hide: () => void = showBanner(
    {
      // Mandatory: no Later, no Escape; the one button closes it.
      deploy: { ...deploy, message, mandatory: true },
      reason: 'deploy',
      version: deploy.version,
      reload: async () => hide(),
      check: async () => false,
      dismiss: () => hide(),
    },
    { ...options, texts: { ...texts, reload: texts.dismiss } },
    link ? [link] : [],
  )
  return hide
}
