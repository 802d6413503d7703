/**
 * Big-endian readers/writers for WKProto bodies (WKPROTO.md §1 "Types").
 * The Reader throws a DecodeError on short or malformed input; codec.ts turns that into a value,
 * so nothing outside the codec ever sees a throw from client bytes.
 */

export class DecodeError extends Error {}

const utf8 = new TextDecoder('utf-8', { fatal: true })
const utf8Encoder = new TextEncoder()

/** GoProto's largest accepted string (its length is read as a signed 16-bit value). */
export const MAX_STR_BYTES = 32767

export class Reader {
  private offset = 0
  private readonly view: DataView

  constructor(private readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  }

  get remaining(): number {
    return this.bytes.length - this.offset
  }

  private need(n: number): void {
    if (this.offset + n > this.bytes.length) throw new DecodeError(`packet truncated: need ${n} more byte(s) at offset ${this.offset}`)
  }

  u8(): number {
    this.need(1)
    return this.bytes[this.offset++]!
  }

  u16(): number {
    this.need(2)
    const v = this.view.getUint16(this.offset)
    this.offset += 2
    return v
  }

  u32(): number {
    this.need(4)
    const v = this.view.getUint32(this.offset)
    this.offset += 4
    return v
  }

  i32(): number {
    this.need(4)
    const v = this.view.getInt32(this.offset)
    this.offset += 4
    return v
  }

  i64(): bigint {
    this.need(8)
    const v = this.view.getBigInt64(this.offset)
    this.offset += 8
    return v
  }

  u64(): bigint {
    this.need(8)
    const v = this.view.getBigUint64(this.offset)
    this.offset += 8
    return v
  }

  str(): string {
    const len = this.u16()
    if (len > MAX_STR_BYTES) throw new DecodeError(`string of ${len} bytes exceeds ${MAX_STR_BYTES}`)
    this.need(len)
    const slice = this.bytes.subarray(this.offset, this.offset + len)
    this.offset += len
    try {
      return utf8.decode(slice)
    } catch {
      throw new DecodeError('string is not valid UTF-8')
    }
  }

  /** every byte left in the body (copied, so the caller may keep it) */
  rest(): Uint8Array {
    const out = this.bytes.slice(this.offset)
    this.offset = this.bytes.length
    return out
  }
}

export class Writer {
  private buf: Uint8Array
  private view: DataView
  length = 0

  constructor(initial = 128) {
    this.buf = new Uint8Array(initial)
    this.view = new DataView(this.buf.buffer)
  }

  private ensure(n: number): void {
    if (this.length + n <= this.buf.length) return
    let size = this.buf.length * 2
    while (size < this.length + n) size *= 2
    const next = new Uint8Array(size)
    next.set(this.buf.subarray(0, this.length))
    this.buf = next
    this.view = new DataView(next.buffer)
  }

  u8(v: number): this {
    this.ensure(1)
    this.buf[this.length++] = v & 0xff
    return this
  }

  u16(v: number): this {
    this.ensure(2)
    this.view.setUint16(this.length, v)
    this.length += 2
    return this
  }

  u32(v: number): this {
    this.ensure(4)
    this.view.setUint32(this.length, v >>> 0)
    this.length += 4
    return this
  }

  i32(v: number): this {
    this.ensure(4)
    this.view.setInt32(this.length, v | 0)
    this.length += 4
    return this
  }

  i64(v: bigint): this {
    this.ensure(8)
    this.view.setBigInt64(this.length, BigInt.asIntN(64, v))
    this.length += 8
    return this
  }

  u64(v: bigint): this {
    this.ensure(8)
    this.view.setBigUint64(this.length, BigInt.asUintN(64, v))
    this.length += 8
    return this
  }

  str(s: string): this {
    const bytes = utf8Encoder.encode(s)
    if (bytes.length > MAX_STR_BYTES) throw new RangeError(`string of ${bytes.length} bytes exceeds ${MAX_STR_BYTES}`)
    this.u16(bytes.length)
    return this.bytes(bytes)
  }

  bytes(b: Uint8Array): this {
    this.ensure(b.length)
    this.buf.set(b, this.length)
    this.length += b.length
    return this
  }

  /** the bytes written so far (a view, not a copy) */
  finish(): Uint8Array {
    return this.buf.subarray(0, this.length)
  }
}
