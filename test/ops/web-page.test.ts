/**
 * GET / serves the web chat page and GET /web/chat.js its script, from files embedded in the program
 * and with no reference to another host. The page's behaviour is tested in a real browser:
 * test/browser/web.browser.ts (`npm run test:browser`).
 */
import { describe, expect, test } from 'bun:test'
import { type TestServer, usingTestServer } from '../helpers/server'

let server: TestServer
usingTestServer((s) => {
  server = s
})

describe('web page', () => {
  test('GET / is the chat page; its only script is /web/chat.js; nothing names another host', async () => {
    const res = await fetch(`${server.url}/`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8')
    const html = await res.text()
    expect(html).toContain('<title>BunIM chat</title>')
    expect([...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1])).toEqual(['/web/chat.js'])

    const script = await fetch(`${server.url}/web/chat.js`)
    expect(script.status).toBe(200)
    expect(script.headers.get('content-type')).toBe('text/javascript; charset=utf-8')
    const js = await script.text()
    expect(js).toContain('/notify?protoc=ws&token=')
    expect(`${html}\n${js}`).not.toMatch(/https?:\/\//)
    expect(js).not.toContain('innerHTML')
  })

  test('the page is not part of the API document', async () => {
    const doc = (await (await fetch(`${server.url}/swagger/json`)).json()) as { paths: Record<string, unknown> }
    expect(Object.keys(doc.paths)).not.toContain('/')
    expect(Object.keys(doc.paths)).not.toContain('/web/chat.js')
  })
})
