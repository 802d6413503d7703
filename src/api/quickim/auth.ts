/**
 * Who is calling: client tokens (`Authorization: Bearer <token>`, prefix optional, or `?token=`)
 * and the manager token of /inner/* (SPEC §1: header `token:` or Bearer; unset → loopback only).
 */
import { timingSafeEqual } from 'node:crypto'
import { loadOrCreateSecret } from '../../core/secrets'
import { type TokenClaims, TokenSigner } from '../../core/quickim/token'
import type { AppContext } from '../../context'
import { CODE, QuickImError } from './envelope'

const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1'])

export class QuickImAuth {
  private signerPromise: Promise<TokenSigner> | undefined

  constructor(private readonly ctx: AppContext) {}

  /** the HMAC signer; the secret is IM_TOKEN_SECRET or generated once and kept in the database */
  signer(): Promise<TokenSigner> {
    this.signerPromise ??= (async () => {
      const secret = this.ctx.config.tokenSecret ?? (await loadOrCreateSecret(this.ctx.database.db, 'quickim_token_secret'))
      return new TokenSigner(secret, this.ctx.config.tokenTtlSeconds)
    })().catch((err) => {
      this.signerPromise = undefined
      throw err
    })
    return this.signerPromise
  }

  /** the caller's claims, or 10101 */
  async client(request: Request, queryToken: string | undefined): Promise<TokenClaims> {
    const raw = bearer(request.headers.get('authorization')) ?? queryToken
    if (!raw) throw new QuickImError(CODE.badToken, 'missing token')
    const claims = (await this.signer()).verify(raw)
    if (!claims) throw new QuickImError(CODE.badToken, 'invalid or expired token')
    return claims
  }

  /** /inner/*: the manager token, or a loopback caller when none is configured; else 10003 */
  manager(request: Request, remoteAddress: string | undefined): void {
    const expected = this.ctx.config.managerToken
    if (expected === undefined) {
      if (remoteAddress && LOOPBACK.has(remoteAddress)) return
      throw new QuickImError(CODE.notAllowed, 'manager API is only open to loopback callers when no manager token is set')
    }
    const given = request.headers.get('token') ?? bearer(request.headers.get('authorization'))
    if (!given || !safeEqual(given, expected)) throw new QuickImError(CODE.notAllowed, 'bad manager token')
  }
}

/**
 * Why a request with an unparseable body would have been refused anyway, if it would: the body is
 * parsed before any handler runs, but a caller without the right token must learn nothing from it.
 */
export async function refusalOf(auth: QuickImAuth, path: string, request: Request, remoteAddress: string | undefined): Promise<QuickImError | undefined> {
  try {
    if (path.startsWith('/inner/')) auth.manager(request, remoteAddress)
    else await auth.client(request, new URL(request.url).searchParams.get('token') ?? undefined)
    return undefined
  } catch (err) {
    if (err instanceof QuickImError) return err
    throw err
  }
}

function bearer(header: string | null): string | undefined {
  if (!header) return undefined
  const v = header.replace(/^Bearer\s+/i, '').trim()
  return v || undefined
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}
