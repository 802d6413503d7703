/**
 * API docs: GET /swagger (Swagger UI) and GET /swagger/json (OpenAPI 3, generated from the routes'
 * `t` schemas). Swagger UI's files are embedded in the program, so no request leaves the machine.
 */
import { openapi } from '@elysiajs/openapi'
import { Elysia } from 'elysia'
import bundlePath from '../../node_modules/swagger-ui-dist/swagger-ui-bundle.js' with { type: 'file' }
import cssPath from '../../node_modules/swagger-ui-dist/swagger-ui.css' with { type: 'file' }

const ASSETS: Record<string, { path: string; type: string }> = {
  'swagger-ui-bundle.js': { path: bundlePath, type: 'text/javascript; charset=utf-8' },
  'swagger-ui.css': { path: cssPath, type: 'text/css; charset=utf-8' },
}

export function docsPlugin(version: string) {
  return new Elysia({ name: 'docs' })
    .get(
      '/swagger/assets/:file',
      ({ params, set }) => {
        const asset = ASSETS[params.file]
        if (!asset) {
          set.status = 404
          return { status: 404, msg: 'no such asset' }
        }
        return new Response(Bun.file(asset.path), {
          headers: { 'content-type': asset.type, 'cache-control': 'public, max-age=86400' },
        })
      },
      { detail: { hide: true } },
    )
    .use(
      openapi({
        path: '/swagger',
        specPath: '/swagger/json',
        provider: 'swagger-ui',
        swagger: {
          cdn: '/swagger/assets/swagger-ui-bundle.js',
          theme: '/swagger/assets/swagger-ui.css',
          autoDarkMode: false,
        },
        documentation: {
          info: {
            title: 'BunIM',
            version,
            description:
              'IM server speaking the WuKongIM server API and the quick-im-core gateway API, with real-time delivery over WebSocket, SSE, long-poll and WKProto.',
          },
          tags: [
            { name: 'ops', description: 'Health, metrics' },
            { name: 'wukongim', description: 'WuKongIM server API (manager token)' },
            { name: 'quickim', description: 'quick-im-core gateway API (client token)' },
            { name: 'quickim-inner', description: 'quick-im-core inner API (manager token)' },
          ],
        },
        exclude: { paths: [/^\/swagger/] },
      }),
    )
}
