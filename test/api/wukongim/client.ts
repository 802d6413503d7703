/** A tiny client for the WuKongIM server API in tests: real HTTP against a running server. */
import type { CoreEvent } from '../../../src/core/events'
import { type TestServer, usingTestServer } from '../../helpers/server'

export interface ApiResponse<T = any> {
  status: number
  body: T
}

export function apiClient(baseUrl: string, headers: Record<string, string> = {}) {
  async function call<T = any>(method: string, path: string, body?: unknown, raw?: string): Promise<ApiResponse<T>> {
    const res = await fetch(baseUrl + path, {
      method,
      headers: { 'content-type': 'application/json', ...headers },
      body: raw ?? (body === undefined ? undefined : JSON.stringify(body)),
    })
    const text = await res.text()
    let parsed: any = text
    try {
      parsed = text ? JSON.parse(text) : undefined
    } catch {}
    return { status: res.status, body: parsed as T }
  }
  return {
    post: <T = any>(path: string, body?: unknown) => call<T>('POST', path, body),
    postRaw: <T = any>(path: string, raw: string) => call<T>('POST', path, undefined, raw),
    get: <T = any>(path: string) => call<T>('GET', path),
  }
}

export type ApiClient = ReturnType<typeof apiClient>

/** One server for the whole test file with its API client (see usingTestServer); returns the list every core event of the server is recorded in. */
export function usingApiServer(use: (server: TestServer, api: ApiClient) => void | Promise<void>): CoreEvent[] {
  const events: CoreEvent[] = []
  usingTestServer((server) => {
    server.ctx.core.events.on((e) => events.push(e))
    return use(server, apiClient(server.url))
  })
  return events
}

export const b64 = (s: string) => Buffer.from(s).toString('base64')
export const unb64 = (s: string) => Buffer.from(s, 'base64').toString()
