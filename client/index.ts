/**
 * deploy-notify's browser client as a module:
 *
 *   import { createNotifier } from 'deploy-notify/client'
 *   const notifier = createNotifier({ url: 'https://sidecar.example', version: BUILD_VERSION })
 *   notifier.start()
 */
import { createNotifier as create, type Notifier, type NotifierOptions } from './notifier.js'

/** Creates a notifier; its apply part is bundled with the app rather than fetched from the sidecar. */
export const createNotifier = (options: NotifierOptions): Notifier => create(options, () => import('./apply.js'))

export type { Notifier, NotifierOptions }
export type { ApplyOptions } from './apply.js'
export type { ApplyTexts } from './apply-texts.js'
export type { Deploy, Update } from './deploy.js'
export type { Texts } from './banner.js'
