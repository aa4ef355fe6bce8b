import type { FastifyInstance } from 'fastify'
import type { Hub } from '../hub.js'
import type { Store } from '../store/store.js'

/** Placeholder: `GET /status` is being built. */
export async function statusRoutes(_app: FastifyInstance, _deps: { store: Store; hub: Hub }): Promise<void> {}
