import { readdirSync } from 'node:fs'
import type { Server } from 'node:http'
import type { Socket } from 'node:net'
import { openFileLimit } from './config.js'

/** Descriptors kept for what is not a connection: the state file's writes, logs, a DNS lookup. */
const SPARE_DESCRIPTORS = 8

export interface ConnectionLimits {
  /** Streams of every kind at most: MAX_CONNECTIONS, or fewer when the open-file limit leaves less room. */
  streams: number
  /** Connections that are not streams (requests in progress, idle keep-alives) at most. */
  others: number
}

/** Descriptors this process holds now (Linux); elsewhere a guess of what Node holds at start. */
export function descriptorsInUse(): number {
  try {
    return readdirSync('/proc/self/fd').length
  } catch {
    return 32
  }
}

/**
 * Splits what the open-file limit leaves free into stream slots and a headroom for other
 * connections (a twentieth of the limit, at least 16), so a notify and a health check are
 * answered while streams fill every slot.
 */
export function connectionLimits(
  maxConnections: number,
  fileLimit = openFileLimit(),
  inUse = descriptorsInUse(),
): ConnectionLimits {
  const others = Math.max(16, Math.ceil(fileLimit / 20))
  const free = fileLimit - inUse - SPARE_DESCRIPTORS
  return { streams: Math.max(1, Math.min(maxConnections, free - others)), others }
}

/**
 * Keeps the server's connections that are not streams (requests in progress, idle keep-alives,
 * connections that never sent a request) within `limits.others`, or within the stream slots
 * still free as well: a reconnect storm after a restart may use what streams do not hold yet.
 * A connection that would pass it first makes room by closing the idle keep-alives (they
 * reconnect when they need to); if every other connection is busy, the new one is closed at once.
 * `release` is told of each socket that becomes a stream, which then no longer counts.
 */
export function limitOtherConnections(
  server: Server,
  limits: ConnectionLimits,
  streams: () => number,
): { release(socket: Socket): void } {
  const open = new Set<Socket>()
  // One listener function for every socket, not a closure per connection.
  const onClose = function (this: Socket): void {
    open.delete(this)
  }
  const full = (): boolean => open.size >= Math.max(limits.others, limits.others + limits.streams - streams())
  server.on('connection', (socket: Socket) => {
    if (full()) {
      server.closeIdleConnections()
      // Those it closed emit 'close' later; they hold no request and are gone already.
      for (const other of open) if (other.destroyed) open.delete(other)
    }
    if (full()) {
      socket.destroy()
      return
    }
    open.add(socket)
    socket.on('close', onClose)
  })
  return {
    release(socket) {
      if (open.delete(socket)) socket.removeListener('close', onClose)
    },
  }
}
