/**
 * What every WuKongIM route shares, scoped to these routes only: JSON body parsing, manager
 * authentication (SPEC §1 IM_MANAGER_TOKEN) and the `{status, msg}` error body.
 */
import { timingSafeEqual } from 'node:crypto'
import { Elysia } from 'elysia'
import type { Server } from 'elysia/universal'
import type { AppContext } from '../../context'
import { DomainError, type DomainErrorKind } from '../../core/errors'

const HTTP_STATUS: Record<DomainErrorKind, number> = {
  invalid: 400,
  unauthorized: 401,
  forbidden: 403,
  archived: 403,
  not_found: 404,
  too_large: 413,
}

/** the only routes whose body is a bare JSON array */
const ARRAY_BODIES = new Set(['/user/onlinestatus'])

const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1'])

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

/** Requests already let through (the parse hook and the transform hook both ask). */
const authorized = new WeakSet<Request>()

/**
 * The manager token from `token:` or `Authorization: Bearer`; without one configured, loopback
 * callers only (an in-process `app.handle()` has no socket and counts as local). Checked once per
 * request; the peer address is only looked up when no token is configured.
 */
export function authorizeManager(ctx: AppContext, request: Request, server: Server | null): void {
  if (authorized.has(request)) return
  const secret = ctx.config.managerToken
  const allowed = secret
    ? sameSecret(request.headers.get('token') ?? request.headers.get('authorization')?.replace(/^Bearer\s+/i, '') ?? '', secret)
    : !server || LOOPBACK.has(server.requestIP(request)?.address ?? '')
  if (!allowed) throw new DomainError('unauthorized', 'invalid or missing manager token')
  authorized.add(request)
}

/** "/channel_id" + "Expected string" → "channel_id: Expected string" */
function validationMessage(error: unknown): string {
  const e = error as {
    valueError?: { path?: string; message?: string }
    all?: { path?: string; message?: string }[]
  }
  const first = e.valueError ?? e.all?.[0]
  const path = (first?.path ?? '').replace(/^\//, '').replaceAll('/', '.') || 'body'
  let message = first?.message ?? 'invalid value'
  if (message === 'Expected required property') message = 'is required'
  return `${path}: ${message}`
}

export function wukongimBase(ctx: AppContext) {
  return new Elysia()
    .onParse(async ({ request, server, path }) => {
      authorizeManager(ctx, request, server)
      const text = await request.text()
      if (text.trim() === '') throw new DomainError('invalid', 'body: required (a JSON document)')
      let body: unknown
      try {
        body = JSON.parse(text)
      } catch {
        throw new DomainError('invalid', 'request body is not valid JSON')
      }
      // Checked here because Elysia's normalizer turns a wrong top-level shape into {} before validating.
      const wantsArray = ARRAY_BODIES.has(path)
      if (wantsArray && !Array.isArray(body)) throw new DomainError('invalid', 'body: Expected a JSON array')
      if (!wantsArray && (typeof body !== 'object' || body === null || Array.isArray(body))) throw new DomainError('invalid', 'body: Expected a JSON object')
      return body
    })
    .onTransform(({ request, server }) => authorizeManager(ctx, request, server))
    .onError(({ code, error: raw, set }) => {
      // Elysia wraps what a parse hook throws in a ParseError: our own refusal is its cause.
      const error = code === 'PARSE' && (raw as { cause?: unknown }).cause instanceof DomainError ? (raw as { cause: DomainError }).cause : raw
      if (error instanceof DomainError) {
        const status = HTTP_STATUS[error.kind]
        set.status = status
        return { status, msg: error.message }
      }
      if (code === 'VALIDATION') {
        set.status = 400
        return { status: 400, msg: validationMessage(error) }
      }
      if (code === 'PARSE') {
        set.status = 400
        return { status: 400, msg: 'request body is not valid JSON' }
      }
      if (code === 'NOT_FOUND') return
      ctx.log.error('wukongim route failed', { code: String(code), error: error instanceof Error ? error.message : String(error) })
      set.status = 500
      return { status: 500, msg: 'internal error' }
    })
}

export const OK = { status: 200 } as const
export const doc = (summary: string) => ({ tags: ['wukongim'], summary })
