import { describe, expect, test } from 'bun:test'
import { type TestServer, usingTestServer } from '../helpers/server'

let server: TestServer
usingTestServer((s) => {
  server = s
})

describe('health and docs', () => {
  test('GET /health answers ok once the database is reachable', async () => {
    const res = await fetch(`${server.url}/health`)
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ status: 'ok' })
  })

  test('GET /health answers 503 when the database is gone', async () => {
    const { startServer } = await import('../../src/server')
    const { silentLogger } = await import('../../src/log')
    const { freshStorage } = await import('../helpers/server')
    const { testConfig } = await import('../../src/config')
    const storage = await freshStorage()
    const other = await startServer(testConfig({ host: '127.0.0.1', ...storage.overrides }), silentLogger)
    await other.ctx.database.close()
    const res = await fetch(`${other.url}/health`)
    expect(res.status).toBe(503)
    await other.stop()
    await storage.drop()
  })

  test('GET /swagger serves Swagger UI from embedded assets only', async () => {
    const html = await (await fetch(`${server.url}/swagger`)).text()
    expect(html).toContain('swagger-ui')
    const urls = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!)
    expect(urls.length).toBeGreaterThan(0)
    for (const u of urls) {
      expect(u.startsWith('/')).toBe(true)
      const asset = await fetch(server.url + u)
      expect(asset.status).toBe(200)
      expect((await asset.arrayBuffer()).byteLength).toBeGreaterThan(1000)
    }
    expect(html).not.toMatch(/https?:\/\//)
  })

  test('GET /swagger/json is an OpenAPI 3 document listing the routes', async () => {
    const doc = (await (await fetch(`${server.url}/swagger/json`)).json()) as { openapi: string; paths: Record<string, unknown> }
    expect(doc.openapi).toStartWith('3.')
    expect(Object.keys(doc.paths)).toContain('/health')
  })

  test('unknown routes get a JSON 404 and no stack trace', async () => {
    const res = await fetch(`${server.url}/no/such/route`)
    expect(res.status).toBe(404)
    const body = await res.text()
    expect(body).not.toContain('at ')
  })
})
