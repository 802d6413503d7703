/** A tiny client for the WuKongIM server API in tests: real HTTP against a running server. */
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

export const b64 = (s: string) => Buffer.from(s).toString('base64')
export const unb64 = (s: string) => Buffer.from(s, 'base64').toString()
