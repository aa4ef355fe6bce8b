// The example's service worker. It caches nothing; it shows the lines every worker needs so
// that deploy-notify's Reload can hand the page over to a new worker (Workbox's have them).
self.addEventListener('message', (event) => {
  if (event.data && event.data.type === 'SKIP_WAITING') self.skipWaiting()
})
