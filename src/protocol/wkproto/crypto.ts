/**
 * WKProto session crypto, exactly as WKPROTO.md §3: X25519 key exchange, aesKey = first 16 hex chars
 * of MD5(base64(shared secret)) used as ASCII key bytes, IV = the 16-char salt's ASCII bytes,
 * AES-128-CBC/PKCS#7 with the same IV for every message, payloads as base64 text, and msgKey =
 * hex MD5 of base64(AES(verify string)).
 */
import { type Cipheriv, createCipheriv, createDecipheriv, type Decipheriv, createHash, createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, randomBytes } from 'node:crypto'

/** DER prefix of an X25519 SubjectPublicKeyInfo; append the 32 raw key bytes. */
const X25519_SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex')
/** DER prefix of an X25519 PKCS#8 private key; append the 32 raw key bytes. */
const X25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex')

const SALT_ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'

export interface SessionKeys {
  /** 16 ASCII bytes */
  key: Buffer
  /** 16 ASCII bytes (the salt) */
  iv: Buffer
}

export interface ServerHandshake {
  keys: SessionKeys
  /** base64 of the server's 32-byte public key, for CONNACK */
  serverKey: string
  /** the 16-char salt, for CONNACK */
  salt: string
}

export const md5Hex = (data: string | Uint8Array) => createHash('md5').update(data).digest('hex')

/** A 16-char salt from [0-9a-zA-Z] (the SDK uses its ASCII bytes as the IV). */
export function randomSalt(): string {
  const bytes = randomBytes(16)
  let out = ''
  for (const b of bytes) out += SALT_ALPHABET[b % SALT_ALPHABET.length]
  return out
}

/** The shared AES key both sides derive from an X25519 shared secret. */
export function deriveAesKey(sharedSecret: Uint8Array): Buffer {
  return Buffer.from(md5Hex(Buffer.from(sharedSecret).toString('base64')).slice(0, 16), 'ascii')
}

/** Decodes a client's base64 public key; the server takes its first 32 bytes (Srv). undefined when unusable. */
export function parseClientKey(clientKey: string): Buffer | undefined {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(clientKey)) return undefined
  const raw = Buffer.from(clientKey, 'base64')
  return raw.length >= 32 ? raw.subarray(0, 32) : undefined
}

export function x25519PublicKey(raw: Uint8Array) {
  return createPublicKey({ key: Buffer.concat([X25519_SPKI_PREFIX, raw]), format: 'der', type: 'spki' })
}

export function x25519PrivateKey(raw: Uint8Array) {
  return createPrivateKey({ key: Buffer.concat([X25519_PKCS8_PREFIX, raw]), format: 'der', type: 'pkcs8' })
}

/** Raw 32 bytes of an X25519 public KeyObject. */
function rawPublic(key: ReturnType<typeof createPublicKey>): Buffer {
  return key.export({ format: 'der', type: 'spki' }).subarray(X25519_SPKI_PREFIX.length)
}

/**
 * Server side of the handshake: a fresh key pair, the shared secret with the client's key, the
 * derived AES key and a fresh salt. undefined when the client key is unusable (bad base64, short,
 * or a low-order point that yields no secret).
 */
export function serverHandshake(clientKey: string): ServerHandshake | undefined {
  const clientRaw = parseClientKey(clientKey)
  if (!clientRaw) return undefined
  try {
    const { publicKey, privateKey } = generateKeyPairSync('x25519')
    const shared = diffieHellman({ privateKey, publicKey: x25519PublicKey(clientRaw) })
    const salt = randomSalt()
    return { keys: { key: deriveAesKey(shared), iv: Buffer.from(salt, 'ascii') }, serverKey: rawPublic(publicKey).toString('base64'), salt }
  } catch {
    return undefined
  }
}

/** Client side (tests, bench): key pair as raw bytes. */
export function clientKeyPair(): { privateRaw: Buffer; publicBase64: string } {
  const { publicKey, privateKey } = generateKeyPairSync('x25519')
  const privateRaw = privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(X25519_PKCS8_PREFIX.length)
  return { privateRaw, publicBase64: rawPublic(publicKey).toString('base64') }
}

/** Client side: the session keys from CONNACK's serverKey and salt. */
export function clientSessionKeys(privateRaw: Uint8Array, serverKey: string, salt: string): SessionKeys {
  const shared = diffieHellman({ privateKey: x25519PrivateKey(privateRaw), publicKey: x25519PublicKey(Buffer.from(serverKey, 'base64')) })
  return { key: deriveAesKey(shared), iv: Buffer.from(salt.slice(0, 16), 'ascii') }
}

/**
 * AES-128-CBC/PKCS#7 under one session's key and fixed IV, on ONE long-lived cipher and decipher
 * instead of a new pair per message (creating them cost more than encrypting a message). CBC
 * chains each block on the previous ciphertext block, so a message continued on the running stream
 * comes out exactly as if encrypted afresh with the IV once its first plaintext block is whitened
 * with (IV ⊕ the stream's last ciphertext block); decryption fixes up its first block the same way.
 * Padding is added and checked here.
 */
class SessionCipher {
  private readonly cipher: Cipheriv
  private readonly decipher: Decipheriv
  /** the last ciphertext block each stream has seen (starts as the IV) */
  private encPrev: Buffer
  private decPrev: Buffer

  constructor(private readonly keys: SessionKeys) {
    this.cipher = createCipheriv('aes-128-cbc', keys.key, keys.iv).setAutoPadding(false)
    this.decipher = createDecipheriv('aes-128-cbc', keys.key, keys.iv).setAutoPadding(false)
    this.encPrev = Buffer.from(keys.iv)
    this.decPrev = Buffer.from(keys.iv)
  }

  encrypt(plain: Uint8Array | string): Buffer {
    const length = typeof plain === 'string' ? Buffer.byteLength(plain, 'utf8') : plain.byteLength
    const pad = BLOCK - (length % BLOCK)
    const block = Buffer.allocUnsafe(length + pad)
    if (typeof plain === 'string') block.write(plain, 0, 'utf8')
    else block.set(plain)
    block.fill(pad, length)
    const { iv } = this.keys
    const prev = this.encPrev
    for (let i = 0; i < BLOCK; i++) block[i]! ^= iv[i]! ^ prev[i]!
    const out = this.cipher.update(block)
    if (out.length !== block.length) throw new Error('AES-CBC: the cipher held back output')
    this.encPrev = Buffer.from(out.subarray(out.length - BLOCK))
    return out
  }

  /** undefined on a length that is not a whole number of blocks or on bad padding */
  decrypt(data: Uint8Array): Buffer | undefined {
    if (data.length === 0 || data.length % BLOCK) return undefined
    const out = this.decipher.update(data)
    if (out.length !== data.length) throw new Error('AES-CBC: the decipher held back output')
    const { iv } = this.keys
    const prev = this.decPrev
    for (let i = 0; i < BLOCK; i++) out[i]! ^= iv[i]! ^ prev[i]!
    this.decPrev = Buffer.from(data.subarray(data.length - BLOCK))
    const pad = out[out.length - 1]!
    if (pad < 1 || pad > BLOCK) return undefined
    for (let i = out.length - pad; i < out.length; i++) if (out[i] !== pad) return undefined
    return out.subarray(0, out.length - pad)
  }
}

const BLOCK = 16
const ciphers = new WeakMap<SessionKeys, SessionCipher>()

/** The session's long-lived cipher: SessionKeys are made once per session and never change. */
function cipherOf(keys: SessionKeys): SessionCipher {
  let c = ciphers.get(keys)
  if (!c) ciphers.set(keys, (c = new SessionCipher(keys)))
  return c
}

export function aesEncrypt(keys: SessionKeys, plain: Uint8Array | string): Buffer {
  return cipherOf(keys).encrypt(plain)
}

/** Throws on bad padding or a length that is not a multiple of 16. */
export function aesDecrypt(keys: SessionKeys, cipher: Uint8Array): Buffer {
  const plain = cipherOf(keys).decrypt(cipher)
  if (!plain) throw new Error('AES-CBC: bad length or padding')
  return plain
}

/** The payload as it travels: ASCII base64 of the AES ciphertext. */
export function encryptPayload(keys: SessionKeys, plain: Uint8Array): Buffer {
  return Buffer.from(aesEncrypt(keys, plain).toString('base64'), 'ascii')
}

const STRICT_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

/** The plaintext of a wire payload, or undefined when it is not base64 of a valid ciphertext. */
export function decryptPayload(keys: SessionKeys, wire: Uint8Array): Buffer | undefined {
  const text = Buffer.from(wire).toString('latin1')
  if (!STRICT_BASE64.test(text)) return undefined
  return cipherOf(keys).decrypt(Buffer.from(text, 'base64'))
}

/** msgKey = hex MD5 of base64(AES(UTF-8 of the verify string)). */
export function msgKeyOf(keys: SessionKeys, verify: string): string {
  return md5Hex(aesEncrypt(keys, verify).toString('base64'))
}

/** SEND verify string: clientSeq + clientMsgNo + channelID + channelType + wire payload text. */
export function sendVerifyString(p: { clientSeq: number; clientMsgNo: string; channelId: string; channelType: number; payload: Uint8Array }): string {
  return `${p.clientSeq}${p.clientMsgNo}${p.channelId}${p.channelType}${Buffer.from(p.payload).toString('utf8')}`
}

/** RECV verify string: messageID + messageSeq + clientMsgNo + timestamp + fromUID + channelID + channelType + wire payload. */
export function recvVerifyString(p: {
  messageId: bigint | number
  messageSeq: number
  clientMsgNo: string
  timestamp: number
  fromUid: string
  channelId: string
  channelType: number
  payload: Uint8Array
}): string {
  return `${p.messageId}${p.messageSeq}${p.clientMsgNo}${p.timestamp}${p.fromUid}${p.channelId}${p.channelType}${Buffer.from(p.payload).toString('utf8')}`
}
