/** Helpers for quick-im tests: a real server, tokens from /inner/get_token, envelope calls. */
import { type TestServer, usingTestServer } from '../../helpers/server'

/** One server for the whole test file with its quick-im client (see usingTestServer). */
export function usingQuickImServer(use: (server: TestServer, q: QuickIm) => void): void {
  usingTestServer((server) => use(server, new QuickIm(server)))
}

/** A fresh session name per call, so connections of one test never see another's messages. */
export function sessionNamer(): (name: string) => string {
  let n = 0
  return (name) => `${name}-${++n}`
}

export interface Envelope<T = any> {
  code: number
  data?: T
  error?: string
}

export class QuickIm {
  constructor(readonly server: TestServer) {}

  async post<T = any>(path: string, body: unknown, token?: string, headers: Record<string, string> = {}): Promise<Envelope<T>> {
    const res = await fetch(this.server.url + path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    })
    if (res.status !== 200) throw new Error(`HTTP ${res.status} for ${path}: ${await res.text()}`)
    return (await res.json()) as Envelope<T>
  }

  /** data of a call that must succeed */
  async ok<T = any>(path: string, body: unknown, token?: string): Promise<T> {
    const r = await this.post<T>(path, body, token)
    if (r.code !== 0) throw new Error(`${path} → ${JSON.stringify(r)}`)
    return r.data as T
  }

  token(session: string, platform = 1): Promise<string> {
    return this.ok<string>('/inner/get_token', { session, platform })
  }

  async conversation(sessions: string[], conversationType = 0): Promise<string> {
    return (await this.ok<{ ConversationId: string }>('/inner/create_conversation', { conversation_type: conversationType, sessions })).ConversationId
  }

  async send(token: string, conversationId: string, content: string, type = 1): Promise<string> {
    return (await this.ok<{ MsgID: string }>('/send_msg', { conversation_id: conversationId, status: 0, type, content }, token)).MsgID
  }

  wsUrl(token: string, extra = ''): string {
    return `${this.server.url.replace('http', 'ws')}/notify?protoc=ws&token=${encodeURIComponent(token)}${extra}`
  }
}

/** A WebSocket client collecting frames; resolves once open. */
export async function openWs(url: string): Promise<{ ws: WebSocket; frames: any[]; raw: (string | ArrayBuffer)[]; closed: Promise<CloseEvent> }> {
  const ws = new WebSocket(url)
  ws.binaryType = 'arraybuffer'
  const frames: any[] = []
  const raw: (string | ArrayBuffer)[] = []
  const closed = new Promise<CloseEvent>((r) => ws.addEventListener('close', (e) => r(e)))
  ws.addEventListener('message', (e) => {
    raw.push(e.data)
    if (typeof e.data === 'string') frames.push(JSON.parse(e.data))
  })
  await new Promise<void>((resolve, reject) => {
    ws.addEventListener('open', () => resolve())
    ws.addEventListener('error', () => reject(new Error('ws error')))
  })
  return { ws, frames, raw, closed }
}

export interface SseEvent {
  id?: string
  event?: string
  data?: string
}

/** An SSE client over fetch streaming: parses events as they come. */
export async function openSse(url: string, headers: Record<string, string> = {}) {
  const controller = new AbortController()
  const res = await fetch(url, { headers, signal: controller.signal })
  const events: SseEvent[] = []
  const comments: string[] = []
  let ended = false
  const reader = res.body!.getReader()
  const decoder = new TextDecoder()
  const done = (async () => {
    let buf = ''
    try {
      for (;;) {
        const { value, done } = await reader.read()
        if (done) break
        buf += decoder.decode(value, { stream: true })
        let i: number
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i)
          buf = buf.slice(i + 2)
          const ev: SseEvent = {}
          let any = false
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) comments.push(line.slice(1).trim())
            else {
              const c = line.indexOf(': ')
              const k = line.slice(0, c) as keyof SseEvent
              ev[k] = line.slice(c + 2)
              any = true
            }
          }
          if (any) events.push(ev)
        }
      }
    } catch {
      // aborted
    }
    ended = true
  })()
  return {
    res,
    events,
    comments,
    messages: () => events.filter((e) => e.event === 'message').map((e) => JSON.parse(e.data!)),
    get ended() {
      return ended
    },
    done,
    close: () => controller.abort(),
  }
}
