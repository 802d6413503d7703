import { Elysia, t } from 'elysia'
import type { Database } from '../db/client'

/** GET /health → 200 {"status":"ok"} once the database answers, 503 otherwise. */
export function healthRoutes(database: Database) {
  return new Elysia({ name: 'health' }).get(
    '/health',
    async ({ set }) => {
      if (await database.ping()) return { status: 'ok' }
      set.status = 503
      return { status: 'unavailable' }
    },
    {
      detail: { tags: ['ops'], summary: 'Liveness and database reachability' },
      response: { 200: t.Object({ status: t.String() }), 503: t.Object({ status: t.String() }) },
    },
  )
}
