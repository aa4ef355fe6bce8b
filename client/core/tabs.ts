/** The leader asks every tab to answer this often; a tab that misses `MISSED` roll calls is gone. */
const ROLL_MS = 2000
const MISSED = 3
/** Tabs opened or closed together (a restored session) reopen the stream once. */
const REOPEN_MS = 500

/**
 * What tabs tell each other about themselves on the `:tabs` channel, short since every page
 * carries the code: the tab's id and version, then `1` when it closes or leaves, or, from the
 * leader, the id of this browser's pages: a roll call to answer.
 */
type Note = [tab: string, version: string, extra?: 1 | string]

const randomId = () => String(Math.random()).slice(2)

/**
 * Runs `lead` in one tab at a time and relays what it sends to every tab, itself included,
 * until `signal` aborts: a Web Lock elects the leader, a BroadcastChannel carries the data,
 * and when the leader closes, the lock passes to a waiting tab. HTTP/1.1 allows six
 * connections per origin, so a stream per tab would hang the seventh tab. Without those APIs
 * every tab leads for itself.
 *
 * Every open tab is still counted with its own version: tabs answer the leader's roll call on
 * a second channel and say goodbye on `pagehide`, and every tab keeps that roster, so the next
 * leader starts with it. `lead` gets the count as a query (`&tabs=ID&pages={"v10":7}`) and is
 * run again, its last run aborted, when the count changes: the stream itself carries it, so it
 * reaches whichever replica holds the stream.
 */
export function shareAcrossTabs(
  name: string,
  version: string,
  lead: (send: (data: string) => void, pagesQuery: string, signal: AbortSignal) => void,
  receive: (data: string) => void,
  signal: AbortSignal,
): void {
  if (!navigator.locks || !self.BroadcastChannel) return lead(receive, '', signal)
  const channel = new BroadcastChannel(name)
  channel.onmessage = (event: MessageEvent<string>) => receive(event.data)
  // A channel of its own, named for the notes' shape: tabs running an older client never see them.
  const roster = new BroadcastChannel(`${name}:tabs`)
  const me = randomId()
  /** The other tabs: their version, and how many roll calls they missed in a row. */
  const others = new Map<string, [version: string, missed: number]>()
  let tabs = randomId()
  let counted: string | undefined
  let connection: AbortController | undefined
  let reopen: ReturnType<typeof setTimeout> | undefined

  const tell = (extra?: Note[2]) => roster.postMessage([me, version, extra] satisfies Note)
  /** Open pages by version, as JSON; the sidecar bounds what one stream may claim. */
  const pages = (): string => {
    const counts = Object.create(null) as Record<string, number>
    for (const [v] of [[version], ...others.values()]) counts[v] = (counts[v] ?? 0) + 1
    return JSON.stringify(counts)
  }
  /** Leads (again) with the count as it is now, unless that is what the stream already says. */
  const connect = () => {
    if (!connection || pages() === counted) return
    connection.abort()
    connection = new AbortController()
    counted = pages()
    const relay = (data: string) => {
      channel.postMessage(data)
      receive(data)
    }
    lead(relay, `&tabs=${tabs}&pages=${encodeURIComponent(counted)}`, connection.signal)
  }
  const changed = () => {
    clearTimeout(reopen)
    reopen = setTimeout(connect, REOPEN_MS)
  }
  /** Forgets tabs that stopped answering; the answers to this roll call come after it. */
  const roll = () => {
    for (const [tab, other] of others) if (++other[1] >= MISSED && others.delete(tab)) changed()
  }

  roster.onmessage = ({ data: [tab, v, extra] }: MessageEvent<Note>) => {
    if (extra === 1) return others.delete(tab) && changed()
    if (extra) {
      tabs = extra
      roll()
      tell()
    }
    if (others.get(tab)?.[0] !== v) changed()
    others.set(tab, [v, 0])
  }
  // Closing, navigating away or entering the back/forward cache (a page restored from it
  // answers the next roll call).
  addEventListener('pagehide', () => tell(1), { signal })
  signal.addEventListener('abort', () => {
    tell(1)
    channel.close()
    roster.close()
    clearTimeout(reopen)
    connection?.abort()
  })
  tell()

  navigator.locks
    .request(name, { signal }, () => {
      const rollCall = () => {
        roll()
        tell(tabs)
      }
      rollCall()
      const timer = setInterval(rollCall, ROLL_MS)
      signal.addEventListener('abort', () => clearInterval(timer))
      connection = new AbortController()
      connect()
      // Held until this notifier stops or the tab closes.
      return new Promise((release) => signal.addEventListener('abort', release))
    })
    .catch(() => {}) // aborted while waiting
}
