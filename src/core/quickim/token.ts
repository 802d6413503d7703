/**
 * quick-im client tokens (POST /inner/get_token): `<payload>.<signature>`, both base64url, where
 * payload = JSON {s: session, p: platform, e: expiry in unix seconds} and signature =
 * HMAC-SHA256(secret, payload). Stateless: any node holding the secret verifies them.
 */
import { createHmac, timingSafeEqual } from 'node:crypto'

export interface TokenClaims {
  session: string
  platform: number
  /** unix seconds */
  expiresAt: number
}

export class TokenSigner {
  constructor(
    private readonly secret: string,
    private readonly ttlSeconds: number,
    private readonly now: () => number = () => Date.now(),
  ) {}

  sign(session: string, platform: number): string {
    const expiresAt = Math.floor(this.now() / 1000) + this.ttlSeconds
    const payload = Buffer.from(JSON.stringify({ s: session, p: platform, e: expiresAt })).toString('base64url')
    return `${payload}.${this.mac(payload)}`
  }

  /** The claims of a valid, unexpired token; undefined for anything else. */
  verify(token: string): TokenClaims | undefined {
    const dot = token.indexOf('.')
    if (dot <= 0 || token.length > 2048) return undefined
    const payload = token.slice(0, dot)
    const given = Buffer.from(token.slice(dot + 1), 'base64url')
    const expected = Buffer.from(this.mac(payload), 'base64url')
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined
    let claims: unknown
    try {
      claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'))
    } catch {
      return undefined
    }
    const { s, p, e } = (claims ?? {}) as { s?: unknown; p?: unknown; e?: unknown }
    if (typeof s !== 'string' || typeof p !== 'number' || typeof e !== 'number') return undefined
    if (e * 1000 <= this.now()) return undefined
    return { session: s, platform: p, expiresAt: e }
  }

  private mac(payload: string): string {
    return createHmac('sha256', this.secret).update(payload).digest('base64url')
  }
}
