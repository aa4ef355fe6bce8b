/**
 * The chart's series colours: the Okabe-Ito palette (told apart with colour-blindness too),
 * lightened a little in the dark. Plain data, shared by the page's CSS and its browser script.
 */
export const PALETTE_LIGHT = ['#0072b2', '#e69f00', '#009e73', '#cc79a7', '#56b4e9', '#d55e00', '#b59f00', '#7f7f7f']
export const PALETTE_DARK = ['#4ba3e3', '#f0b232', '#2bc49a', '#dc95be', '#7cc6f0', '#f07a33', '#e0cf4a', '#a3a3a3']

/** How many series colours there are; the script cycles through `.c0` to `.c{n-1}`. */
export const PALETTE_SIZE = PALETTE_LIGHT.length
