/**
 * The quick-im gateway API plugin (SPEC §4). Its onError gives every failure the quick-im
 * envelope (HTTP 200, {"code":N,"error":…}); it must be `.use()`d before the root app's onError.
 */
import { Elysia, ParseError } from 'elysia'
import type { AppContext } from '../../context'
import { QuickImService } from '../../core/quickim/service'
import type { Hub } from '../../realtime/hub'
import { BodyTooLarge, maxBodyBytes, readBodyText, refuseUnprintable, unwrapParseRefusal } from '../body-checks'
import { QuickImAuth, refusalOf } from './auth'
import { errorEnvelope } from './envelope'
import { quickImFormats } from './frames'
import { type NotifyOptions, notifyRoutes } from './notify'
import { clientRoutes, innerRoutes } from './routes'

export function quickImApi(ctx: AppContext & { hub: Hub }, opts: NotifyOptions = {}) {
  for (const f of quickImFormats) ctx.hub.registerFormat(f)
  const auth = new QuickImAuth(ctx)
  const svc = new QuickImService(ctx.core)
  const bodyLimit = maxBodyBytes(ctx.config.maxPayloadBytes)
  return new Elysia()
    // The Go gateway decodes every body as JSON whatever its content-type (curl -d sends a form
    // type): so do we. Empty → {} (the schema then names the first missing field).
    .onParse(async ({ request }) => {
      const text = await readBodyText(request, bodyLimit)
      if (!text.trim()) return {}
      let body: unknown
      try {
        body = JSON.parse(text)
      } catch {
        throw new ParseError()
      }
      refuseUnprintable(text, body)
      return body
    })
    .onError(async ({ code, error: raw, set, path, request, server }) => {
      set.status = 200
      const error = unwrapParseRefusal(code, raw)
      if (error instanceof BodyTooLarge) set.headers.connection = 'close'
      // a malformed body is reported only to a caller that may use the route
      const refused = code === 'PARSE' ? await refusalOf(auth, path, request, server?.requestIP(request)?.address).catch(() => undefined) : undefined
      return errorEnvelope(code, refused ?? error, ctx.log)
    })
    .use(innerRoutes(ctx, auth, svc))
    .use(notifyRoutes(ctx, ctx.hub, auth, opts))
    .use(clientRoutes(auth, svc))
}
