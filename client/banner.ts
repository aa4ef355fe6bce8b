/** The words of the banner; every one can be replaced through options. */
export interface Texts {
  message: string
  reload: string
  later: string
}

const builtIn: Record<string, Texts> = {
  en: { message: 'A new version is available.', reload: 'Reload', later: 'Later' },
  zh: { message: '新版本已发布。', reload: '刷新', later: '稍后' },
  ru: { message: 'Доступна новая версия.', reload: 'Обновить', later: 'Позже' },
}

/** The built-in texts for the page's language (`<html lang>`), English when there are none. */
export const textsFor = (lang: string): Texts => builtIn[lang.slice(0, 2).toLowerCase()] ?? builtIn.en!

// `all: initial` stops the page's inherited styles at the shadow boundary; the shadow root
// keeps ours from leaking out.
const style =
  ':host{all:initial}div{position:fixed;z-index:2147483647;bottom:1em;left:1em;display:flex;gap:.6em;' +
  'align-items:center;padding:.8em 1em;border-radius:.5em;background:#222;color:#fff;font:14px system-ui;' +
  'animation:a .2s}p{margin:0}button{font:inherit;padding:.4em .8em;border:1px solid;border-radius:.4em;' +
  'background:#fff;color:#222}button+button{background:0;color:#fff}@keyframes a{from{opacity:0}}' +
  '@media(prefers-reduced-motion:reduce){div{animation:none}}'

/**
 * Shows the banner: `role="status"` (announced politely), the message, `extra` nodes (the apply
 * part's countdown and "What's new" link), **Reload** and, unless the deploy is mandatory,
 * **Later**; in an open shadow root, so assistive technology and tests reach it. Returns the
 * function that removes it.
 */
export function showBanner(
  texts: Texts,
  message: string | undefined,
  mandatory: boolean | undefined,
  onReload: () => void,
  onLater: () => void,
  extra: Node[] = [],
): () => void {
  // A custom element name, so no selector of the page (`div`, `body > *`) matches the host.
  const host = document.createElement('deploy-notify')
  const root = host.attachShadow({ mode: 'open' })
  root.innerHTML = `<style>${style}</style><div role="status"><p></p><button></button><button></button></div>`
  const [text, reload, later] = root.querySelectorAll('p,button') as unknown as HTMLElement[]
  // Words go in as text, never as markup: the message comes from CI.
  text!.textContent = message || texts.message
  text!.after(...extra)
  reload!.textContent = texts.reload
  later!.textContent = texts.later
  reload!.onclick = onReload
  later!.onclick = onLater
  if (mandatory) later!.remove()
  document.body.append(host)
  return () => host.remove()
}
