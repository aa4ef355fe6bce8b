/**
 * What the client needs only once an update is confirmed, loaded on demand so that every page
 * loads less: the banner (styles and texts) and the service-worker hand-over of Reload. The
 * sidecar serves it as `/client-ui.js` beside `/client.js`; the module entry bundles it.
 */
export { showBanner } from './banner.js'
export { reloadPage, updateWorker } from './reload.js'
