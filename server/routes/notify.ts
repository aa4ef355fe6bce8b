import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { Config } from '../config.js'
import { DEFAULT_APP, type DeployRequest } from '../../contract/deploy.js'
import { fields } from '../../contract/fields.js'
import { LoopbackOnlyError, StaleSequenceError, StoreUnavailableError, UnauthorizedError } from '../errors.js'
import type { Hub } from '../hub.js'
import { StoreError, type Store } from '../store/store.js'

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
      let outcome
      try {
        outcome = await store.publish(deployRequest)
      } catch (error) {
        if (!(error instanceof StoreError)) throw error
        request.log.error({ err: error }, 'deploy not stored')
        throw new StoreUnavailableError(error.message)
      }
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
 * With a token: a bearer header compared in constant time (both sides hashed, so neither the
 * length nor a prefix leaks). Without one: loopback callers only.
 */
function authorizer(token: string | undefined) {
  const expected = token === undefined ? undefined : digest(token)
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (expected === undefined) {
      // Behind a proxy on this host every caller is loopback; the proxy's headers give it away.
      const proxied = ['forwarded', 'x-forwarded-for', 'via'].some((name) => request.headers[name] !== undefined)
      if (proxied || !isLoopback(request.socket.remoteAddress)) {
        throw new LoopbackOnlyError(proxied ? 'behind a proxy' : (request.socket.remoteAddress ?? 'here'))
      }
      return
    }
    const match = /^Bearer +(\S+) *$/i.exec(request.headers.authorization ?? '')
    if (!match?.[1] || !timingSafeEqual(digest(match[1]), expected)) {
      request.log.warn('notify refused: wrong or missing token')
      reply.header('www-authenticate', 'Bearer realm="deploy-notify"')
      throw new UnauthorizedError(
        match ? 'the bearer token is wrong' : 'an Authorization: Bearer <NOTIFY_TOKEN> header is required',
      )
    }
  }
}

const digest = (value: string): Buffer => createHash('sha256').update(value).digest()

function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.')
}
