/**
 * Encoders for the text/event-stream wire format (HTML Living Standard, "Server-sent events").
 * Pure functions: the hub writes the bytes they return. Values are validated where they enter
 * (notify schema), so none of them can hold the CR or LF that would start a new field here.
 */

import type { Deploy } from '../contract/deploy.js'

/** One dispatched event: `event`, `id` and one `data` line of JSON, ended by a blank line. */
export function eventFrame(event: 'deploy' | 'version', deploy: Deploy): Buffer {
  return Buffer.from(`event: ${event}\nid: ${deploy.id}\ndata: ${JSON.stringify(deploy)}\n\n`)
}

/**
 * The reconnection delay for this browser. A comment line first makes the response start
 * with bytes that every proxy forwards at once; the blank line dispatches nothing.
 */
export function retryFrame(ms: number): Buffer {
  return Buffer.from(`: deploy-notify\nretry: ${ms}\n\n`)
}

/** A comment line: ignored by EventSource, but keeps idle proxies and NATs from closing the stream. */
export const keepaliveFrame: Buffer = Buffer.from(':\n\n')
