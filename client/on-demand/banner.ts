import type { BannerOptions, Update } from '../core/deploy.js'
import { textsFor } from './texts.js'

// `all: initial` stops the page's inherited styles at the shadow boundary (custom properties
// still pass, which is what makes it themable); the shadow root keeps ours from leaking out.
// Fixed between the viewport's edges, as wide as its content: never wider than the screen,
// a long message or URL wraps anywhere, and the buttons wrap below it on a narrow one.
const style = `:host{all:initial}
div{position:fixed;z-index:2147483647;left:.75em;right:.75em;bottom:max(.75em,env(safe-area-inset-bottom));
width:fit-content;max-width:40em;max-height:calc(100vh - 1.5em);overflow:auto;box-sizing:border-box;
display:flex;flex-wrap:wrap;align-items:center;gap:.6em .75em;padding:.75em 1em;border-radius:.5em;
font:14px/1.4 system-ui,sans-serif;color:var(--deploy-notify-color,#111);background:var(--deploy-notify-background,#fff);
box-shadow:0 .2em 1em #0004;animation:a .2s}
.top{top:max(.75em,env(safe-area-inset-top));bottom:auto}
p{flex:1 1 14em;min-width:0;margin:0;overflow-wrap:anywhere}
button{font:inherit;padding:.45em .9em;border:1px solid;border-radius:.4em;cursor:pointer;white-space:nowrap;
color:var(--deploy-notify-accent-color,#fff);background:var(--deploy-notify-accent,#1d4ed8);border-color:var(--deploy-notify-accent,#1d4ed8)}
button+button{color:inherit;background:none;border-color:currentColor}
@media(prefers-color-scheme:dark){div{color:var(--deploy-notify-color,#f5f5f5);background:var(--deploy-notify-background,#222)}}
@keyframes a{from{opacity:0}}
@media(prefers-reduced-motion:reduce){div{animation:none}}`

/**
 * Shows the banner: `role="status"` (announced politely), the message, **Reload** and, unless
 * the deploy is mandatory, **Later** (Escape too); in an open shadow root, so assistive
 * technology and tests reach it, with `part`s and `--deploy-notify-*` properties to theme it.
 * Returns the function that removes it.
 */
export function showBanner(
  { deploy, reload: onReload, dismiss: onLater }: Update,
  { texts, position }: BannerOptions,
  extra: Node[] = [],
): () => void {
  const words = { ...textsFor(document.documentElement.lang), ...texts }
  // A custom element name, so no selector of the page (`div`, `body > *`) matches the host.
  const host = document.createElement('deploy-notify')
  const root = host.attachShadow({ mode: 'open' })
  root.innerHTML = `<style>${style}</style><div role="status" part="banner"><p part="message"></p><button part="reload"></button><button part="later"></button></div>`
  const [banner, text, reload, later] = root.querySelectorAll('div,p,button') as unknown as HTMLElement[]
  if (position === 'top') banner!.className = 'top'
  // Words go in as text, never as markup: the message comes from CI.
  text!.textContent = deploy?.message || words.message
  // The apply policy's countdown and "What's new" link.
  text!.after(...extra)
  reload!.textContent = words.reload
  later!.textContent = words.later
  reload!.onclick = () => void onReload()
  later!.onclick = onLater
  const escape = (event: KeyboardEvent) => event.key === 'Escape' && onLater()
  if (deploy?.mandatory) later!.remove()
  else document.addEventListener('keydown', escape)
  document.body.append(host)
  return () => {
    document.removeEventListener('keydown', escape)
    host.remove()
  }
}
