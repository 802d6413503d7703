import { describe, expect, test } from 'bun:test'
import { SseStream } from '../../src/realtime/sse-stream'
import { eventually } from '../helpers/wait'

const text = (chunks: Uint8Array[]) => Buffer.concat(chunks).toString()

describe('SseStream', () => {
  test('sends a comment line every heartbeat interval', async () => {
    const stream = new SseStream(1024, 30, () => {})
    const reader = stream.body.getReader()
    const chunks: Uint8Array[] = []
    const reading = (async () => {
      for (;;) {
        const r = await reader.read()
        if (r.done) return
        chunks.push(r.value)
      }
    })()
    await eventually(() => text(chunks).split(': ping\n\n').length > 3)
    stream.end()
    await reading
  })

  test('a reader that stops reading is cut off at the limit; the queue never grows past it', async () => {
    let ended = 0
    const stream = new SseStream(1000, 60_000, () => ended++)
    const event = 'x'.repeat(99) + '\n'
    let accepted = 0
    while (stream.write(event)) accepted++
    expect(accepted).toBe(10)
    expect(stream.isClosed).toBe(true)
    expect(ended).toBe(1)
    expect(stream.write(event)).toBe(false)
  })

  test('end() with a last event delivers it, then the stream is done', async () => {
    const stream = new SseStream(1024, 60_000, () => {})
    stream.write('event: message\ndata: 1\n\n')
    stream.end('event: kickout\ndata: {}\n\n')
    expect(await new Response(stream.body).text()).toBe('event: message\ndata: 1\n\nevent: kickout\ndata: {}\n\n')
  })
})
