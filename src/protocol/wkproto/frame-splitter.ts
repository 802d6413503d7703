/**
 * Streaming frame decoder: bytes arrive split or coalesced arbitrarily (TCP, or WS messages that
 * carry part of a packet); push() returns every whole frame so far, keeping the tail for later.
 * A malformed length poisons the stream (there is no way to resynchronise), reported as a value.
 */
import { isOneBytePacket, MAX_REMAINING_LENGTH, readVarint } from './codec'

export type SplitResult = { frames: Uint8Array[]; error?: string }

export class FrameSplitter {
  private pending: Uint8Array = new Uint8Array(0)
  private failed: string | undefined

  /** bytes held back waiting for the rest of a frame */
  get buffered(): number {
    return this.pending.length
  }

  push(chunk: Uint8Array): SplitResult {
    if (this.failed) return { frames: [], error: this.failed }
    let data: Uint8Array
    if (this.pending.length === 0) data = chunk
    else {
      data = new Uint8Array(this.pending.length + chunk.length)
      data.set(this.pending)
      data.set(chunk, this.pending.length)
    }
    const frames: Uint8Array[] = []
    let offset = 0
    while (offset < data.length) {
      const type = data[offset]! >> 4
      if (isOneBytePacket(type)) {
        frames.push(data.slice(offset, offset + 1))
        offset += 1
        continue
      }
      if (type === 0 || type > 12) return this.fail(frames, `unknown packet type ${type}`)
      const len = readVarint(data, offset + 1)
      if (len.kind === 'incomplete') break
      if (len.kind === 'error') return this.fail(frames, len.error)
      const end = offset + 1 + len.size + len.value
      if (end > data.length) break
      frames.push(data.slice(offset, end))
      offset = end
    }
    // Copy the tail so the caller's chunk buffer can be reused.
    this.pending = offset === data.length ? new Uint8Array(0) : data.slice(offset)
    if (this.pending.length > MAX_REMAINING_LENGTH + 5) return this.fail(frames, 'buffered frame exceeds the size limit')
    return { frames }
  }

  private fail(frames: Uint8Array[], error: string): SplitResult {
    this.failed = error
    this.pending = new Uint8Array(0)
    return { frames, error }
  }
}
