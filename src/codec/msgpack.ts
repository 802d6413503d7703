/**
 * MessagePack for binary frames (/notify format=msgpack) and for what nodes say to each other.
 * @msgpack/msgpack is pure JavaScript: msgpackr's native optional packages cannot be locked for
 * every platform from the registry we install from, which breaks `npm ci` (docs/dependencies.md).
 */
import { Decoder, Encoder } from '@msgpack/msgpack'

// Reused instances: no per-call allocation of encoder state. Integers above 2^32 stay numbers.
const encoder = new Encoder({ ignoreUndefined: true })
const decoder = new Decoder()

export function encodeMsgpack(value: unknown): Uint8Array {
  return encoder.encode(value)
}

export function decodeMsgpack(bytes: Uint8Array | ArrayBuffer): unknown {
  return decoder.decode(bytes instanceof ArrayBuffer ? new Uint8Array(bytes) : bytes)
}
