/**
 * What a tab remembers across reloads, under `deploy-notify:<app>`: in sessionStorage the
 * version it last reloaded for (the loop guard) and, under `:note`, the deploy that reload
 * brings (the note after it); in localStorage the version dismissed with Later.
 */
export const local = (): Storage => localStorage
export const session = (): Storage => sessionStorage

/** Reads `key`, or writes it when `value` is given; the browser may deny storage, and then there is no memory. */
export const storage = (area: () => Storage, key: string, value?: string): string | null => {
  try {
    if (value === undefined) return area().getItem(key)
    area().setItem(key, value)
  } catch {
    // no memory then
  }
  return null
}

/** The key a tab remembers an app under; per app, so several notifiers on one page (micro-frontends) keep apart. */
export const memoryKey = (app = 'default'): string => `deploy-notify:${app}`

/** Where the reload's record for the page it lands on is kept. */
export const noteKey = (key: string): string => `${key}:note`
