import { describe, expect, test } from 'bun:test'
import { decodeMsgpack, encodeMsgpack } from '../src/codec/msgpack'

describe('msgpack codec', () => {
  test('round-trips message objects, large integers and binary', () => {
    const value = { MsgId: '22222-2222-2B7K-9QX', SendTime: 1698119710632897, n: 2 ** 53 - 1, s: 'héllo', b: new Uint8Array([1, 2, 3]) }
    expect(decodeMsgpack(encodeMsgpack(value))).toEqual(value)
  })
})
