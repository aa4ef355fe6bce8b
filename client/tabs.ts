/**
 * Runs `lead` in one tab at a time and relays what it sends to every tab, itself included,
 * until `signal` aborts: a Web Lock elects the leader, a BroadcastChannel carries the data,
 * and when the leader closes, the lock passes to a waiting tab. HTTP/1.1 allows six
 * connections per origin, so a stream per tab would hang the seventh tab. Without those APIs
 * every tab leads for itself.
 */
export function shareAcrossTabs(
  name: string,
  lead: (send: (data: string) => void) => void,
  receive: (data: string) => void,
  signal: AbortSignal,
): void {
  if (!navigator.locks || typeof BroadcastChannel !== 'function') return lead(receive)
  const channel = new BroadcastChannel(name)
  channel.onmessage = (event: MessageEvent<string>) => receive(event.data)
  signal.addEventListener('abort', () => channel.close())
  navigator.locks
    .request(name, { signal }, () => {
      lead((data) => {
        channel.postMessage(data)
        receive(data)
      })
      // Held until this notifier stops or the tab closes.
      return new Promise((release) => signal.addEventListener('abort', release))
    })
    .catch(() => {}) // aborted while waiting
}
