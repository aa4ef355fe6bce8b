/**
 * deploy-notify's browser client as a module:
 *
 *   import { createNotifier } from 'deploy-notify/client'
 *   const notifier = createNotifier({ url: 'https://sidecar.example', version: BUILD_VERSION })
 *   notifier.start()
 */
export { createNotifier, type Notifier, type NotifierOptions } from './notifier.js'
export type { Deploy, Update } from './deploy.js'
export type { Texts } from './banner.js'
