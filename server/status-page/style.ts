import { PALETTE_DARK, PALETTE_LIGHT } from './palette.js'

/**
 * The status page's CSS. Colours are variables, swapped for dark mode; the chart's series
 * take theirs from `palette.ts`.
 */

const vars = (palette: string[]): string => palette.map((colour, i) => `--c${i}:${colour}`).join(';')
const series = PALETTE_LIGHT.map(
  (_, i) => `.c${i}{fill:var(--c${i});stroke:var(--c${i});background:var(--c${i})}`,
).join('')

export const style = `
:root{color-scheme:light dark;--bg:#f6f8fa;--card:#fff;--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;--ok:#1a7f37;--warn:#bc4c00;${vars(PALETTE_LIGHT)}}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--card:#151b23;--fg:#e6edf3;--muted:#9198a1;--line:#3d444d;--ok:#3fb950;--warn:#f0883e;${vars(PALETTE_DARK)}}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
header,main,footer{max-width:62rem;margin:0 auto;padding:0 1rem}
header{display:flex;flex-wrap:wrap;align-items:baseline;justify-content:space-between;gap:.5rem;padding-top:1rem}
h1{font-size:1.35rem;margin:0}
h2{font-size:1.15rem;margin:0 0 .75rem;overflow-wrap:anywhere}
#state{margin:0;color:var(--muted);font-size:.9rem}
#state::before{content:"";display:inline-block;width:.6em;height:.6em;border-radius:50%;margin-right:.4em;background:var(--warn)}
#state.live::before{background:var(--ok)}
section{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:1rem;margin:1rem 0}
dl{display:flex;flex-wrap:wrap;gap:.5rem 2rem;margin:0 0 1rem}
dt{color:var(--muted);font-size:.8rem}
dd{margin:0;font-size:1.05rem;font-weight:600;overflow-wrap:anywhere}
dd.message{font-weight:400}
dd.incomplete{color:var(--warn);font-weight:400}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.95em;overflow-wrap:anywhere}
figure{margin:0 0 1rem}
figcaption{font-weight:600;margin-bottom:.25rem}
svg{display:block;overflow:visible}
svg text{fill:var(--muted);stroke:none;font-size:11px}
.axis{stroke:var(--line)}
.deploy{stroke:var(--muted);stroke-dasharray:3 3}
.area{fill-opacity:.75;stroke-width:1.5;stroke-linejoin:round}
.legend{display:flex;flex-wrap:wrap;gap:.25rem 1rem;list-style:none;margin:.25rem 0 0;padding:0;font-size:.85rem}
.tables{display:grid;align-items:start;grid-template-columns:minmax(0,2fr) minmax(0,3fr);gap:1rem}
@media (max-width:44rem){.tables{grid-template-columns:minmax(0,1fr)}}
table{border-collapse:collapse;width:100%;font-size:.9rem}
caption{text-align:left;font-weight:600;padding-bottom:.25rem}
th,td{text-align:left;vertical-align:top;padding:.3rem .5rem .3rem 0;border-bottom:1px solid var(--line)}
thead th{color:var(--muted);font-weight:500;font-size:.8rem}
tbody th{font-weight:400}
.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tfoot td{border-bottom:0;font-weight:600}
td time{white-space:nowrap}
.sw{display:inline-block;width:.75em;height:.75em;border-radius:2px;margin-right:.4em;vertical-align:-.05em}
.tag{font-size:.75rem;border:1px solid var(--line);border-radius:1em;padding:0 .45em;margin-left:.4em;color:var(--muted);white-space:nowrap}
.empty{color:var(--muted)}
footer{color:var(--muted);font-size:.85rem;padding-bottom:1.5rem}
a{color:inherit}
.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip-path:inset(50%);white-space:nowrap}
${series}
`.trim()
