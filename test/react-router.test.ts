import { fileURLToPath } from 'node:url'
import { describeRouterApp } from './helpers/router-app-tests.js'

// test/fixtures/react-app: a React Router data router (basename /shop) with deploy-notify/react-router's
// <NavigationCheck> and deploy-notify/react's hook, built with Vite.
const root = fileURLToPath(new URL('./fixtures/react-app/', import.meta.url))

describeRouterApp(
  'a React Router data router under /shop',
  { root, app: 'react-shop' },
  {
    home: '/shop/',
    orders: '/shop/orders',
  },
)
