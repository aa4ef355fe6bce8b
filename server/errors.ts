import createError from '@fastify/error'

/**
 * Every coded error of the sidecar, each with its status code. An answer's JSON body is
 * `{ error: code, message }` (see `app.ts`); codes are stable, messages are for people. The
 * start-up errors (no status) are mapped to exit codes by their code in `cli/serve-command.ts`.
 */
export const UnauthorizedError = createError('DN_ERR_UNAUTHORIZED', '%s', 401)
export const NoVersionError = createError('DN_ERR_NO_VERSION', 'no version of app "%s" is known yet', 404)
export const RouteNotFoundError = createError('DN_ERR_NOT_FOUND', 'no route %s %s', 404)
export const InvalidPagesError = createError('DN_ERR_INVALID_PAGES', 'pages %s', 400)
export const StaleSequenceError = createError('DN_ERR_STALE_SEQUENCE', '%s', 409)
export const TooManyStreamsError = createError(
  'DN_ERR_TOO_MANY_STREAMS',
  'this sidecar holds its maximum of %d streams; retry later',
  503,
)
export const TooManyStreamsFromAddressError = createError(
  'DN_ERR_TOO_MANY_STREAMS',
  'this sidecar holds its maximum of %d streams from one client address; retry later',
  503,
)
export const TooManyAppsError = createError(
  'DN_ERR_TOO_MANY_APPS',
  'this sidecar follows its maximum of %d apps without a deploy; retry later, or notify a first version of the app',
  503,
)
export const ClientNotBuiltError = createError(
  'DN_ERR_CLIENT_NOT_BUILT',
  'the browser client is not built; run "npm run build"',
  503,
)
/** Thrown by a store's `publish` when the deploy could not be made durable; nothing changed. */
export const StoreUnavailableError = createError('DN_ERR_STORE_UNAVAILABLE', 'the deploy was not stored: %s', 503)
/** A replica cut off from Redis takes no stream: its pages would be counted nowhere. */
export const CutOffError = createError(
  'DN_ERR_STORE_UNAVAILABLE',
  'this replica is cut off from Redis (%s); retry, another replica takes the stream',
  503,
)
export const ShuttingDownError = createError(
  'DN_ERR_SHUTTING_DOWN',
  'this sidecar is shutting down; retry, another replica or its restart will answer',
  503,
)

/** The state under DATA_DIR (or the token file beside it) cannot be read or used: exit 1. */
export const StateError = createError('DN_ERR_STATE', '%s')
/** Redis over TLS presents a certificate that does not verify: exit 1 (retrying cannot help). */
export const RedisCertificateError = createError('DN_ERR_REDIS_CERTIFICATE', '%s')
/** Another sidecar runs on the same DATA_DIR: exit 1. */
export const DataDirInUseError = createError('DN_ERR_DATA_DIR_IN_USE', '%s')

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
