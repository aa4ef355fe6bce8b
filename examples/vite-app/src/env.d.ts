/// <reference types="vite/client" />

// Set by the deploy-notify plugin (vite.config.ts).
interface ImportMetaEnv {
  readonly DEPLOY_NOTIFY_VERSION: string
  readonly DEPLOY_NOTIFY_APP: string
}
