/**
 * The URL a click on a link would navigate this tab to within the app, or undefined when the
 * click is not a plain same-origin navigation: another button or a modifier (a new tab), a
 * target other than this tab, a download, another origin, or a jump within the same page.
 */
export function appLinkTarget(event: MouseEvent): string | undefined {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey)
    return
  // The innermost link, also inside open shadow roots (composedPath sees through them).
  const link = event.composedPath().find((node): node is HTMLAnchorElement => node instanceof HTMLAnchorElement)
  if (!link?.href || (link.target && link.target !== '_self') || link.hasAttribute('download')) return
  const url = new URL(link.href, location.href)
  if (url.origin !== location.origin) return
  if (url.hash && url.pathname === location.pathname && url.search === location.search) return
  return url.href
}
