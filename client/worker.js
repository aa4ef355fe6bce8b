// deploy-notify: the service-worker side of "Reload". Import it into your worker
// (importScripts('/deploy-notify-worker.js')) or copy this listener. When the user presses
// Reload, the page posts { type: 'SKIP_WAITING' } to the waiting worker (Workbox's
// convention, so Workbox-made workers already do this) and reloads once it takes control.
self.addEventListener('message', (event) => {
  if (event.data && event.data.type === 'SKIP_WAITING') self.skipWaiting()
})
