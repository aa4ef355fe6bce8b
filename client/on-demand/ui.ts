/**
 * What the client needs only once another version may be live, loaded on demand so that every
 * page loads less: asking the origin, the banner (styles and texts), the service-worker
 * hand-over of Reload, and the apply policy (also loaded at start with `apply: 'auto'`, and
 * after a reload for the note). The sidecar serves it as `/client-ui.js` beside `/client.js`;
 * the module entry bundles it.
 */
export { createUpdates } from './updates.js'

/** This part's shape, for the code that loads it (a type only: nothing here loads with client.js). */
export type UI = typeof import('./ui.js')
