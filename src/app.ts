/**
 * Builds the Elysia app from the feature modules. No listen(): tests call app.handle(request).
 */
import { Elysia } from 'elysia'
import { wukongimRoutes } from './api/wukongim'
import type { AppContext } from './context'
import { docsPlugin } from './ops/docs'
import { healthRoutes } from './ops/health'
import { metricsRoutes } from './ops/metrics'
import { wkprotoWsRoutes } from './protocol/wkproto/ws'
import { quickImApi } from './api/quickim'
import { VERSION } from './version'
import { webPage } from './web/page'

export function buildApp(ctx: AppContext) {
  return (
    new Elysia()
      // quick-im comes before the root onError: it answers every error with its own envelope (HTTP 200 {code,error}).
      .use(quickImApi(ctx))
      // WuKongIM likewise answers its own errors ({status,msg} naming the field), so it too comes first.
      .use(wukongimRoutes(ctx))
      // Last-resort handler: no stack trace or internal message ever reaches a client.
      .onError(({ code, error, set }) => {
        if (code === 'NOT_FOUND') {
          set.status = 404
          return { status: 404, msg: 'route not found' }
        }
        if (code === 'PARSE') {
          set.status = 400
          return { status: 400, msg: 'request body is not valid JSON' }
        }
        if (code === 'VALIDATION') {
          set.status = 400
          return { status: 400, msg: 'invalid request' }
        }
        ctx.log.error('unhandled error', { code: String(code), error: error instanceof Error ? error.message : String(error) })
        set.status = 500
        return { status: 500, msg: 'internal error' }
      })
      .use(docsPlugin(VERSION))
      // the web chat page: GET / (and its script, /web/chat.js)
      .use(webPage())
      .use(healthRoutes(ctx.database))
      .use(metricsRoutes(ctx))
      // WKProto (binary and JSON-RPC) over WebSocket: GET /ws
      .use(wkprotoWsRoutes(ctx))
  )
}

export type App = ReturnType<typeof buildApp>
