import type { FastifyInstance } from 'fastify'
import type { Hub } from '../hub.js'
import type { Store } from '../store/store.js'

/** Placeholder: the status page at `GET /` is being built. */
export async function statusPageRoutes(_app: FastifyInstance, _deps: { store: Store; hub: Hub }): Promise<void> {}
