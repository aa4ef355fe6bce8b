import { fileURLToPath } from 'node:url'
import { describeRouterApp } from './helpers/router-app-tests.js'

// test/fixtures/vue-app: Vue Router with deploy-notify/vue's guard and composable, built with Vite.
const root = fileURLToPath(new URL('./fixtures/vue-app/', import.meta.url))

describeRouterApp(
  'a Vue Router app, HTML5 history under /shop/',
  { root, app: 'vue-shop' },
  {
    home: '/shop/',
    orders: '/shop/orders',
  },
)

describeRouterApp(
  'a Vue Router app, hash history',
  { root, app: 'vue-shop' },
  {
    env: { VITE_ROUTER: 'hash' },
    home: '/',
    orders: '/#/orders',
    urlsOnly: true,
  },
)
