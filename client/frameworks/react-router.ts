/**
 * `deploy-notify/react-router`: checks the version on navigations, in data routers
 * (`createBrowserRouter`, `createHashRouter`) and in `<BrowserRouter>` alike.
 *
 *   import { NavigationCheck } from 'deploy-notify/react-router'
 *   // in the root route's element, or inside <BrowserRouter>:
 *   <NavigationCheck notifier={notifier} />
 */
import { createElement, useContext, useEffect, useRef, type ReactElement } from 'react'
import { NavigationType, UNSAFE_DataRouterContext, useBlocker, useLocation, type Blocker } from 'react-router'
import { checkBeforeNavigation, type NavigationCheckOptions } from './navigation.js'
import type { Notifier } from '../index.js'

export type { NavigationCheckOptions } from './navigation.js'

export interface NavigationCheckProps extends NavigationCheckOptions {
  notifier: Pick<Notifier, 'check'>
}

/**
 * In a data router: every link or `navigate()` after the first page waits for a version check
 * (bounded by `timeout`, 2 s by default, then it proceeds as if current); when the page is out
 * of date, the target loads in full at the URL the router makes for it (`router.createHref`:
 * basename and hash history included). Back and forward are not held. In `<BrowserRouter>`,
 * which cannot hold a navigation, the check follows it: an outdated page reloads at the new
 * location. Renders nothing. React Router allows one blocker at a time: an app that uses
 * `useBlocker` itself should call `checkBeforeNavigation` from its own blocker instead.
 */
export function NavigationCheck(props: NavigationCheckProps): ReactElement {
  return createElement(useContext(UNSAFE_DataRouterContext) ? HeldNavigations : FollowedNavigations, props)
}

function HeldNavigations({ notifier, timeout }: NavigationCheckProps): null {
  const { router } = useContext(UNSAFE_DataRouterContext)!
  const blocker: Blocker = useBlocker(({ historyAction }) => historyAction !== NavigationType.Pop)
  useEffect(() => {
    if (blocker.state !== 'blocked') return
    let superseded = false
    // The blocker's location is the router's own, basename included, so the router's href for it is the page's URL.
    void checkBeforeNavigation(notifier, router.createHref(blocker.location), { timeout }).then(
      (loading) => loading || superseded || blocker.proceed(),
    )
    return () => {
      superseded = true
    }
  }, [blocker, router, notifier, timeout])
  return null
}

function FollowedNavigations({ notifier, timeout }: NavigationCheckProps): null {
  const location = useLocation()
  // The page's own first location (StrictMode runs effects twice on mount; the key stays).
  const first = useRef(location.key)
  useEffect(() => {
    if (location.key === first.current) return
    void checkBeforeNavigation(notifier, window.location.href, { timeout })
  }, [location.key, notifier, timeout])
  return null
}

export { checkBeforeNavigation }
