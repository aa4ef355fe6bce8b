import createError from '@fastify/error'

/**
 * The errors the sidecar answers with, each with its status code. The JSON body is
 * `{ error: code, message }` (see `app.ts`); codes are stable, messages are for people.
 */
export const UnauthorizedError = createError('DN_ERR_UNAUTHORIZED', '%s', 401)
export const LoopbackOnlyError = createError(
  'DN_ERR_LOOPBACK_ONLY',
  'NOTIFY_TOKEN is not set, so notify is accepted from loopback only; set NOTIFY_TOKEN to notify from %s',
  403,
)
export const NoVersionError = createError('DN_ERR_NO_VERSION', 'no version of app "%s" is known yet', 404)
export const RouteNotFoundError = createError('DN_ERR_NOT_FOUND', 'no route %s %s', 404)
export const InvalidPagesError = createError('DN_ERR_INVALID_PAGES', 'pages %s', 400)
export const StaleSequenceError = createError('DN_ERR_STALE_SEQUENCE', '%s', 409)
export const TooManyStreamsError = createError(
  'DN_ERR_TOO_MANY_STREAMS',
  'this sidecar holds its maximum of %d streams; retry later',
  503,
)
export const ClientNotBuiltError = createError(
  'DN_ERR_CLIENT_NOT_BUILT',
  'the browser client is not built; run "npm run build"',
  503,
)
export const StoreUnavailableError = createError('DN_ERR_STORE_UNAVAILABLE', 'the deploy was not stored: %s', 503)

/** Fastify's own codes for bad requests, renamed so clients see one family of codes. */
export const fastifyCodes: Record<string, string> = {
  FST_ERR_VALIDATION: 'DN_ERR_INVALID_REQUEST',
  FST_ERR_CTP_BODY_TOO_LARGE: 'DN_ERR_BODY_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'DN_ERR_UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'DN_ERR_INVALID_REQUEST',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'DN_ERR_INVALID_JSON',
  FST_ERR_CTP_INVALID_JSON_BODY: 'DN_ERR_INVALID_JSON',
}

/** Sentences that say more than Fastify's, by our code. */
export const clearerMessages: Record<string, string> = {
  DN_ERR_UNSUPPORTED_MEDIA_TYPE: 'the body must be JSON, sent with Content-Type: application/json',
  DN_ERR_BODY_TOO_LARGE: 'the body is larger than 16 KiB',
}
