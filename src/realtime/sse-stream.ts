/**
 * A Server-Sent Events response body with a bounded queue: bytes wait in the stream's queue
 * until the socket takes them; when a consumer stops reading and the queue passes `limit`
 * bytes, the stream ends (slow consumer) instead of growing server memory.
 */
export class SseStream {
  readonly body: ReadableStream<Uint8Array>
  private controller!: ReadableStreamDefaultController<Uint8Array>
  private closed = false
  private heartbeat: ReturnType<typeof setInterval> | undefined
  private drainWaiters: (() => void)[] = []
  private readonly encoder = new TextEncoder()

  constructor(
    private readonly limit: number,
    heartbeatMs: number,
    private readonly onEnd: () => void,
  ) {
    this.body = new ReadableStream<Uint8Array>(
      {
        start: (c) => {
          this.controller = c
        },
        pull: () => {
          for (const w of this.drainWaiters.splice(0)) w()
        },
        cancel: () => this.finish(false),
      },
      new ByteLengthQueuingStrategy({ highWaterMark: limit }),
    )
    this.heartbeat = setInterval(() => this.comment('ping'), heartbeatMs)
    this.heartbeat.unref?.()
  }

  get isClosed(): boolean {
    return this.closed
  }

  /** bytes waiting for the socket */
  get queued(): number {
    return this.closed ? 0 : this.limit - (this.controller.desiredSize ?? 0)
  }

  /** Queues an event; false (and the stream ends) when the consumer is too far behind. */
  write(chunk: string | Uint8Array): boolean {
    if (this.closed) return false
    const bytes = typeof chunk === 'string' ? this.encoder.encode(chunk) : chunk
    if (this.queued + bytes.byteLength > this.limit) {
      this.finish(true)
      return false
    }
    this.controller.enqueue(bytes)
    return true
  }

  comment(text: string): void {
    this.write(`: ${text}\n\n`)
  }

  /** Resolves once the queue is below half the limit (replay writes wait instead of overflowing). */
  async drained(): Promise<void> {
    while (!this.closed && this.queued > this.limit / 2) await new Promise<void>((r) => this.drainWaiters.push(r))
  }

  /** Ends the stream as a slow consumer (the response is aborted; the client reconnects). */
  cutOff(): void {
    this.finish(true)
  }

  /** Ends the stream, optionally with a last event (kickout). */
  end(lastEvent?: string): void {
    if (this.closed) return
    if (lastEvent) this.controller.enqueue(this.encoder.encode(lastEvent))
    this.finish(false)
  }

  private finish(error: boolean): void {
    if (this.closed) return
    this.closed = true
    clearInterval(this.heartbeat)
    for (const w of this.drainWaiters.splice(0)) w()
    try {
      // error() aborts the response (the queue is dropped); no argument: Bun logs no stack for it
      if (error) this.controller.error()
      else this.controller.close()
    } catch {
      // already cancelled by the client
    }
    this.onEnd()
  }
}
