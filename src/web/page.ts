/**
 * The web chat page (SPEC §1: the HTTP port serves a web page): GET / and its script
 * GET /web/chat.js. Both files are embedded in the program (`with { type: 'file' }`, as Swagger UI's
 * are), so the compiled executable serves them with nothing beside it.
 */
import { Elysia } from 'elysia'
import pageFile from './index.html' with { type: 'file' }
import scriptPath from './chat.js' with { type: 'file' }

// bun-types types every .html import as an HTMLBundle (Bun's bundler); with type 'file' it is the path.
const pagePath = pageFile as unknown as string

/** no-cache: the browser revalidates, so a new version of the server is picked up on reload */
const serve = (path: string, type: string) => () => new Response(Bun.file(path), { headers: { 'content-type': type, 'cache-control': 'no-cache' } })

export function webPage() {
  return new Elysia({ name: 'web-page' })
    .get('/', serve(pagePath, 'text/html; charset=utf-8'), { detail: { hide: true } })
    .get('/web/chat.js', serve(scriptPath, 'text/javascript; charset=utf-8'), { detail: { hide: true } })
}
