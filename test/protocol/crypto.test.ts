/**
 * WKProto crypto against the SDK's own primitives (curve25519-js, crypto-js, md5-typescript as
 * wukongimjssdk 1.0.4 uses them): both sides derive the same key, and payloads and msgKeys agree.
 */
import { describe, expect, test } from 'bun:test'
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import { generateKeyPair, sharedKey } from 'curve25519-js'
import fc from 'fast-check'
import { Md5 } from 'md5-typescript'
import { SecurityManager } from 'wukongimjssdk/lib/security'
import { decodePacket, encodePacket } from '../../src/protocol/wkproto/codec'
import {
  aesDecrypt,
  aesEncrypt,
  clientKeyPair,
  clientSessionKeys,
  decryptPayload,
  encryptPayload,
  msgKeyOf,
  parseClientKey,
  recvVerifyString,
  sendVerifyString,
  serverHandshake,
} from '../../src/protocol/wkproto/crypto'
import { PacketType } from '../../src/protocol/wkproto/packets'

/** What the SDK does on WS open and on CONNACK (connect_manager.js). */
function sdkHandshake() {
  const seed = Uint8Array.from(Buffer.from(crypto.randomUUID().replace(/-/g, ''), 'ascii'))
  const pair = generateKeyPair(seed)
  const clientKey = Buffer.from(pair.public).toString('base64')
  return {
    clientKey,
    finish(serverKey: string, salt: string) {
      const secret = sharedKey(pair.private, Uint8Array.from(Buffer.from(serverKey, 'base64')))
      const sm = new (SecurityManager as unknown as new () => { aesKey: string; aesIV: string; encryption(s: string): string; encryption2(b: Uint8Array): string; decryption(b: Uint8Array): Uint8Array })()
      sm.aesKey = Md5.init(Buffer.from(secret).toString('base64')).substring(0, 16)
      sm.aesIV = salt.length > 16 ? salt.substring(0, 16) : salt
      return sm
    },
  }
}

describe('key exchange', () => {
  test('the server and the SDK derive the same AES key and IV', () => {
    for (let i = 0; i < 20; i++) {
      const client = sdkHandshake()
      const hs = serverHandshake(client.clientKey)!
      expect(hs.salt).toMatch(/^[0-9a-zA-Z]{16}$/)
      expect(Buffer.from(hs.serverKey, 'base64')).toHaveLength(32)
      const sm = client.finish(hs.serverKey, hs.salt)
      expect(hs.keys.key.toString('ascii')).toBe(sm.aesKey)
      expect(hs.keys.iv.toString('ascii')).toBe(sm.aesIV)
    }
  })

  test('our test client derives the same keys as the server', () => {
    const c = clientKeyPair()
    const hs = serverHandshake(c.publicBase64)!
    expect(clientSessionKeys(c.privateRaw, hs.serverKey, hs.salt)).toEqual(hs.keys)
  })

  test('unusable client keys are refused, not thrown', () => {
    for (const bad of ['', 'not base64!', Buffer.alloc(31).toString('base64'), '====']) expect(serverHandshake(bad)).toBeUndefined()
    expect(parseClientKey(Buffer.alloc(40, 9).toString('base64'))).toHaveLength(32)
    fc.assert(fc.property(fc.string(), (s) => expect(() => serverHandshake(s)).not.toThrow()))
  })
})

describe('payloads and msgKey', () => {
  const client = sdkHandshake()
  const hs = serverHandshake(client.clientKey)!
  const sm = client.finish(hs.serverKey, hs.salt)

  test('SEND: the SDK-encrypted payload decrypts and its msgKey verifies', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 200 }), fc.integer({ min: 1, max: 1e6 }), (text, clientSeq) => {
        const plain = JSON.stringify({ type: 1, content: text })
        const wire = Buffer.from(sm.encryption2(Buffer.from(plain, 'utf8')), 'ascii')
        const fields = { clientSeq, clientMsgNo: 'c' + clientSeq, channelId: 'g1', channelType: 2, payload: wire }
        const sdkMsgKey = Md5.init(sm.encryption(`${clientSeq}c${clientSeq}g12${wire.toString()}`))
        expect(msgKeyOf(hs.keys, sendVerifyString(fields))).toBe(sdkMsgKey)
        expect(decryptPayload(hs.keys, wire)?.toString('utf8')).toBe(plain)
      }),
      { numRuns: 100 },
    )
  })

  test('RECV: our payload and msgKey pass the SDK check (chat_manager.js onPacket)', () => {
    const plain = Buffer.from(JSON.stringify({ type: 1, content: 'héllo 你好' }), 'utf8')
    const payload = encryptPayload(hs.keys, plain)
    const fields = { messageId: 9007199254740991n, messageSeq: 12, clientMsgNo: 'cm', timestamp: 1763700000, fromUid: 'u1', channelId: 'u2', channelType: 1, payload }
    const frame = encodePacket({ type: PacketType.RECV, setting: 0, msgKey: msgKeyOf(hs.keys, recvVerifyString(fields)), ...fields }, 2)
    const decoded = decodePacket(frame, 2)
    expect(decoded.ok).toBe(true)
    // The SDK recomputes msgKey from the decoded fields exactly like this.
    const verify = `${'9007199254740991'}${12}cm${1763700000}u1u21${payload.toString()}`
    expect(Md5.init(sm.encryption(verify))).toBe(msgKeyOf(hs.keys, recvVerifyString(fields)))
    expect(Buffer.from(sm.decryption(payload)).toString('utf8')).toBe(plain.toString('utf8'))
  })

  test('tampered or non-base64 payloads do not decrypt', () => {
    const wire = encryptPayload(hs.keys, Buffer.from('{"type":1}'))
    expect(decryptPayload(hs.keys, Buffer.from('%%%'))).toBeUndefined()
    expect(decryptPayload(hs.keys, Buffer.from('QUJD'))).toBeUndefined() // 3 bytes: not a block
    const other = serverHandshake(clientKeyPair().publicBase64)!
    const wrong = decryptPayload(other.keys, wire)
    expect(wrong === undefined || wrong.toString() !== '{"type":1}').toBe(true)
  })
})

describe('one long-lived cipher per session', () => {
  // What a fresh cipher per message gives (OpenSSL's own padding and padding check).
  const freshEncrypt = (k: { key: Buffer; iv: Buffer }, data: Uint8Array) => {
    const c = createCipheriv('aes-128-cbc', k.key, k.iv)
    return Buffer.concat([c.update(data), c.final()])
  }
  const freshDecrypt = (k: { key: Buffer; iv: Buffer }, data: Uint8Array) => {
    try {
      const d = createDecipheriv('aes-128-cbc', k.key, k.iv)
      return Buffer.concat([d.update(data), d.final()])
    } catch {
      return undefined
    }
  }
  const ours = (k: { key: Buffer; iv: Buffer }, data: Uint8Array) => {
    try {
      return aesDecrypt(k, data)
    } catch {
      return undefined
    }
  }

  test('any sequence of encryptions and decryptions (failed ones too) answers as fresh ciphers do', () => {
    const op = fc.record({ op: fc.constantFrom('encrypt', 'decrypt-garbage', 'decrypt-valid', 'decrypt-tampered'), data: fc.uint8Array({ maxLength: 80 }) })
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
        const keys = { key: randomBytes(16), iv: randomBytes(16) }
        for (const { op, data } of ops) {
          if (op === 'encrypt') expect(aesEncrypt(keys, data)).toEqual(freshEncrypt(keys, data))
          else if (op === 'decrypt-garbage') expect(ours(keys, data)).toEqual(freshDecrypt(keys, data))
          else {
            const cipher = freshEncrypt(keys, data)
            if (op === 'decrypt-tampered') cipher[cipher.length - 1]! ^= 0x5a
            expect(ours(keys, cipher)).toEqual(freshDecrypt(keys, cipher))
            if (op === 'decrypt-valid') expect(ours(keys, freshEncrypt(keys, data))).toEqual(Buffer.from(data))
          }
        }
      }),
      { numRuns: 300 },
    )
  })

  test('strings are encrypted as their UTF-8 bytes', () => {
    const keys = { key: randomBytes(16), iv: randomBytes(16) }
    for (const text of ['', 'a', 'héllo 你好 😀', 'x'.repeat(16), 'y'.repeat(33)]) expect(aesEncrypt(keys, text)).toEqual(freshEncrypt(keys, Buffer.from(text, 'utf8')))
  })
})
