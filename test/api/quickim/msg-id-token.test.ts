import { describe, expect, test } from 'bun:test'
import fc from 'fast-check'
import { encodeMsgId, parseMsgId } from '../../../src/core/quickim/msg-id'
import { TokenSigner } from '../../../src/core/quickim/token'

describe('MsgId codec', () => {
  test('16 base-32 digits, left-padded with 2, grouped 5-4-4-3', () => {
    expect(encodeMsgId(0)).toBe('22222-2222-2222-222')
    expect(encodeMsgId(1)).toBe('22222-2222-2222-223')
    expect(encodeMsgId(32)).toBe('22222-2222-2222-232')
    expect(encodeMsgId(Number.MAX_SAFE_INTEGER)).toMatch(/^[2-9A-HJ-NP-Z]{5}-[2-9A-HJ-NP-Z]{4}-[2-9A-HJ-NP-Z]{4}-[2-9A-HJ-NP-Z]{3}$/)
  })

  test('round-trips and sorts as strings in id order', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), (a, b) => {
        expect(parseMsgId(encodeMsgId(a))).toBe(a)
        expect(encodeMsgId(a) < encodeMsgId(b)).toBe(a < b)
      }),
    )
  })

  test('accepts the decimal message_id', () => {
    expect(parseMsgId('12345')).toBe(12345)
    expect(parseMsgId(String(Number.MAX_SAFE_INTEGER))).toBe(Number.MAX_SAFE_INTEGER)
  })

  test('well-formed ids above 2^53−1 are unknown, not malformed', () => {
    expect(parseMsgId('9007199254740992')).toBe('unknown')
    expect(parseMsgId('ZZZZZ-ZZZZ-ZZZZ-ZZZ')).toBe('unknown')
  })

  test('malformed ids', () => {
    for (const s of ['', 'abc', '22222-2222-2222-22', '22222-2222-2222-2221', '22222-2222-2222-220', '22222-2222-2222-22I', '1.5', '-1', '22222_2222_2222_222'])
      expect(parseMsgId(s)).toBe('malformed')
  })
})

describe('client tokens', () => {
  const signer = new TokenSigner('secret', 60)

  test('carry session and platform', () => {
    const claims = signer.verify(signer.sign('alice', 7))
    expect(claims?.session).toBe('alice')
    expect(claims?.platform).toBe(7)
  })

  test('expire after the TTL', () => {
    const past = new TokenSigner('secret', 60, () => Date.now() - 61_000)
    expect(signer.verify(past.sign('alice', 1))).toBeUndefined()
    const recent = new TokenSigner('secret', 60, () => Date.now() - 59_000)
    expect(signer.verify(recent.sign('alice', 1))?.session).toBe('alice')
  })

  test('reject tampering, other secrets and garbage', () => {
    const token = signer.sign('alice', 1)
    const [payload, sig] = token.split('.')
    const forged = Buffer.from(JSON.stringify({ s: 'mallory', p: 1, e: 9e9 })).toString('base64url')
    expect(signer.verify(`${forged}.${sig}`)).toBeUndefined()
    expect(signer.verify(`${payload}.${sig!.slice(1)}`)).toBeUndefined()
    expect(new TokenSigner('other', 60).verify(token)).toBeUndefined()
    for (const junk of ['', '.', 'abc', 'a.b.c', '.'.repeat(3000)]) expect(signer.verify(junk)).toBeUndefined()
  })
})
