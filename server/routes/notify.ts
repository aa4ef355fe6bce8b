import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { Config } from '../config.js'
import { DEFAULT_APP, type DeployRequest } from '../../contract/deploy.js'
import { fields } from '../../contract/fields.js'
import { StaleSequenceError, StoreUnavailableError, UnauthorizedError } from '../errors.js'
import type { Hub } from '../hub.js'
import type { Store } from '../store/store.js'

/** Large enough for any valid body, small enough that nobody can make the sidecar buffer much. */
export const NOTIFY_BODY_LIMIT = 16 * 1024

const bodySchema = {
  type: 'object',
  required: ['version'],
  additionalProperties: false,
  properties: {
    version: fields.version.schema,
    app: fields.app.schema,
    message: fields.message.schema,
    notesUrl: fields.notesUrl.schema,
    mandatory: fields.mandatory.schema,
    sequence: fields.sequence.schema,
  },
} as const

type NotifyBody = Omit<DeployRequest, 'app'> & { app?: string }

/** `POST /notify`: CI announces a deploy; it is stored, then broadcast. */
export async function notifyRoutes(
  app: FastifyInstance,
  { config, store, hub }: { config: Config; store: Store; hub: Hub },
): Promise<void> {
  const authorize = authorizer(config.notifyToken)

  app.post<{ Body: NotifyBody }>(
    '/notify',
    { bodyLimit: NOTIFY_BODY_LIMIT, onRequest: authorize, schema: { body: bodySchema } },
    async (request, reply) => {
      const deployRequest: DeployRequest = { ...request.body, app: request.body.app ?? DEFAULT_APP }
      const outcome = await store.publish(deployRequest).catch((error: unknown) => {
        if (error instanceof StoreUnavailableError) request.log.error({ err: error }, 'deploy not stored')
        throw error
      })
      switch (outcome.kind) {
        case 'changed': {
          const { app: appName, version, id } = outcome.deploy
          request.log.info({ app: appName, version, id }, 'deploy accepted')
          return reply.code(202).send({ app: appName, version, id, delivered: hub.connections(appName) })
        }
        case 'unchanged': {
          const { app: appName, version, id } = outcome.deploy
          return reply.code(200).send({ app: appName, version, id, unchanged: true })
        }
        case 'stale': {
          const { current } = outcome
          throw new StaleSequenceError(
            `sequence ${deployRequest.sequence} is lower than ${current.sequence} of the current version ` +
              `"${current.version}" of app "${current.app}"; a rollback needs a higher sequence`,
          )
        }
      }
    },
  )
}

/**
 * Every notify carries the bearer token: NOTIFY_TOKEN, or the one generated into DATA_DIR
 * (`main.ts`). Nothing is trusted by address: behind a proxy every caller is loopback, and a
 * page on any origin of this machine can send a CORS-safelisted POST. Compared in constant
 * time (both sides hashed, so neither the length nor a prefix leaks). A refusal comes before
 * the body is read, and closes the connection (`lingering-close.ts`), so a large body is
 * neither read nor answered twice.
 */
function authorizer(token: string | undefined) {
  const expected = token === undefined ? undefined : digest(token)
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const match = /^Bearer +(\S+) *$/i.exec(request.headers.authorization ?? '')
    if (expected && match?.[1] && timingSafeEqual(digest(match[1]), expected)) return
    request.log.warn('notify refused: wrong or missing token')
    reply.header('www-authenticate', 'Bearer realm="deploy-notify"')
    throw new UnauthorizedError(
      match
        ? 'the bearer token is wrong'
        : 'an Authorization: Bearer <NOTIFY_TOKEN> header is required (without NOTIFY_TOKEN the sidecar ' +
            'generates one into DATA_DIR/notify-token, which "deploy-notify notify" on its host reads)',
    )
  }
}

const digest = (value: string): Buffer => createHash('sha256').update(value).digest()
