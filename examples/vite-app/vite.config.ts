import deployNotify from 'deploy-notify/vite'
import { defineConfig } from 'vite'

// The sidecar (`npm start` in the repository). The dev and preview servers pass /deploy-notify/
// on to it, as nginx.conf does in production, so the page and the sidecar share an origin.
const sidecar = process.env.SIDECAR_URL ?? 'http://localhost:8080'
const proxy = {
  '/deploy-notify': { target: sidecar, rewrite: (path: string) => path.replace(/^\/deploy-notify/, '') },
}

export default defineConfig({
  // APP_VERSION=v2 npx vite build examples/vite-app; without it, the git commit.
  plugins: [deployNotify({ version: process.env.APP_VERSION || 'git', app: 'example' })],
  server: { proxy },
  preview: { proxy },
})
