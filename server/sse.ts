/**
 * The one frame encoder of every event stream (`/events` and `/status/events`), for the
 * text/event-stream wire format (HTML Living Standard, "Server-sent events"). Pure functions:
 * the stream registry writes the bytes they return.
 */

import createError from '@fastify/error'
import type { Deploy } from '../contract/deploy.js'

/**
 * A field value that would break the frame. Values are validated where they enter (the notify
 * schema, the stores), so this is the last line: CR or LF would end the field and start another
 * (a forged `id:`, `data:` or a whole event), NUL is refused for the `id` by the spec's parser.
 */
export const UnsafeFieldError = createError('DN_ERR_UNSAFE_SSE_FIELD', 'refused to write the SSE %s field %s: %s', 500)

const UNSAFE = /[\r\n\0]/

/** `value`, or an UnsafeFieldError naming the field when it holds CR, LF or NUL. */
function safe(field: string, value: string): string {
  if (UNSAFE.test(value))
    throw new UnsafeFieldError(field, JSON.stringify(value), 'CR, LF and NUL would start another field')
  return value
}

/**
 * One dispatched event: `event`, optionally `id`, and one `data` line of JSON, ended by a blank
 * line. JSON.stringify escapes every CR and LF, so the data line is one line by construction;
 * the check still covers it, in case a value's own toJSON ever returns raw text.
 */
function frame(event: string, data: unknown, id?: string): Buffer {
  const idLine = id === undefined ? '' : `id: ${safe('id', id)}\n`
  return Buffer.from(`event: ${safe('event', event)}\n${idLine}data: ${safe('data', JSON.stringify(data))}\n\n`)
}

/** A `deploy` or `version` event; the SSE `id` is the deploy's, for Last-Event-ID. */
export function eventFrame(event: 'deploy' | 'version', deploy: Deploy): Buffer {
  return frame(event, deploy, deploy.id)
}

/** One `status` event: a `/status` snapshot, for the status page. */
export function statusFrame(status: unknown): Buffer {
  return frame('status', status)
}

/**
 * The reconnection delay for this browser. A comment line first makes the response start
 * with bytes that every proxy forwards at once; the blank line dispatches nothing.
 */
export function retryFrame(ms: number): Buffer {
  if (!Number.isSafeInteger(ms) || ms < 0)
    throw new UnsafeFieldError('retry', String(ms), 'it must be whole milliseconds')
  return Buffer.from(`: deploy-notify\nretry: ${ms}\n\n`)
}

/** A comment line: ignored by EventSource, but keeps idle proxies and NATs from closing the stream. */
export const keepaliveFrame: Buffer = Buffer.from(':\n\n')
