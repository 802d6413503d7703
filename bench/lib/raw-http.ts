/**
 * A minimal HTTP/1.1 keep-alive client over Bun.connect: one request in flight per connection.
 * The load generator uses it instead of fetch() because it costs far less CPU per request, so the
 * load generator's core is not what bounds a measured rate.
 */
import type { Socket } from 'bun'

export interface RawResponse {
  status: number
  body: string
}

const CRLF2 = Buffer.from('\r\n\r\n')

export class RawHttpConnection {
  private socket: Socket<undefined> | null = null
  private buf: Buffer = Buffer.alloc(0)
  private waiting: { resolve: (r: RawResponse) => void; reject: (e: Error) => void } | null = null
  private unsent: Buffer | null = null
  closed = false

  private constructor(
    private readonly host: string,
    private readonly port: number,
  ) {}

  static async open(host: string, port: number): Promise<RawHttpConnection> {
    const c = new RawHttpConnection(host, port)
    c.socket = await Bun.connect({
      hostname: host,
      port,
      socket: {
        data: (_s, data) => c.onData(data),
        drain: () => c.flush(),
        close: () => c.fail(new Error('connection closed')),
        error: (_s, e) => c.fail(e),
      },
    })
    c.socket.setNoDelay(true)
    return c
  }

  request(method: string, path: string, body?: string, headers = ''): Promise<RawResponse> {
    if (this.closed) return Promise.reject(new Error('connection closed'))
    if (this.waiting) return Promise.reject(new Error('request already in flight'))
    const bodyBytes = body === undefined ? 0 : Buffer.byteLength(body)
    const head =
      `${method} ${path} HTTP/1.1\r\nHost: ${this.host}:${this.port}\r\n${headers}` +
      (body === undefined ? '\r\n' : `Content-Type: application/json\r\nContent-Length: ${bodyBytes}\r\n\r\n${body}`)
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject }
      this.write(Buffer.from(head))
    })
  }

  close() {
    this.closed = true
    this.socket?.end()
  }

  private write(data: Buffer) {
    const n = this.socket!.write(data)
    if (n < data.length) this.unsent = data.subarray(Math.max(n, 0))
  }

  private flush() {
    const u = this.unsent
    if (!u) return
    this.unsent = null
    this.write(u)
  }

  private fail(e: Error) {
    this.closed = true
    const w = this.waiting
    this.waiting = null
    w?.reject(e)
  }

  private onData(data: Buffer) {
    this.buf = this.buf.length ? Buffer.concat([this.buf, data]) : data
    const res = parseResponse(this.buf)
    if (!res) return
    this.buf = res.consumed >= this.buf.length ? Buffer.alloc(0) : this.buf.subarray(res.consumed)
    const w = this.waiting
    this.waiting = null
    w?.resolve({ status: res.status, body: res.body })
  }
}

/** Parses one complete response at the start of buf, or null when more bytes are needed. */
export function parseResponse(buf: Buffer): { status: number; body: string; consumed: number } | null {
  const headEnd = buf.indexOf(CRLF2)
  if (headEnd < 0) return null
  const head = buf.toString('latin1', 0, headEnd)
  const status = Number(head.slice(9, 12))
  const bodyStart = headEnd + 4
  const lower = head.toLowerCase()
  const cl = /\r\ncontent-length:\s*(\d+)/.exec(lower)
  if (cl) {
    const len = Number(cl[1])
    if (buf.length < bodyStart + len) return null
    return { status, body: buf.toString('utf8', bodyStart, bodyStart + len), consumed: bodyStart + len }
  }
  if (lower.includes('transfer-encoding: chunked')) {
    let pos = bodyStart
    const parts: Buffer[] = []
    for (;;) {
      const lineEnd = buf.indexOf('\r\n', pos)
      if (lineEnd < 0) return null
      const size = parseInt(buf.toString('latin1', pos, lineEnd), 16)
      if (Number.isNaN(size)) throw new Error('bad chunk size')
      const dataStart = lineEnd + 2
      if (buf.length < dataStart + size + 2) return null
      if (size === 0) return { status, body: Buffer.concat(parts).toString('utf8'), consumed: dataStart + 2 }
      parts.push(buf.subarray(dataStart, dataStart + size))
      pos = dataStart + size + 2
    }
  }
  // No length: 204/304 or a bodiless status.
  return { status, body: '', consumed: bodyStart }
}
