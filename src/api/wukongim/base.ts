/**
 * What every WuKongIM route shares, scoped to these routes only: JSON body parsing, manager
 * authentication (SPEC §1 IM_MANAGER_TOKEN) and the `{status, msg}` error body.
 */
import { timingSafeEqual } from 'node:crypto'
import { type DocumentDecoration, Elysia, type TSchema } from 'elysia'
import type { Server } from 'elysia/universal'
import type { AppContext } from '../../context'
import { DomainError, type DomainErrorKind } from '../../core/errors'
import { BodyTooLarge, maxBodyBytes, mayHoldNul, nulPath, readBodyText, refuseUnprintable, unwrapParseRefusal } from '../body-checks'
import { ErrorBody, Ok } from './models'

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
/** listening on one of these, every peer is local: no per-request peer lookup (a syscall) is needed */
const LOOPBACK_BINDS = new Set(['127.0.0.1', '::1', 'localhost'])

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
    : !server || LOOPBACK_BINDS.has(ctx.config.host) || LOOPBACK.has(server.requestIP(request)?.address ?? '')
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
  let path = (first?.path ?? '').replace(/^\//, '').replaceAll('/', '.') || 'body'
  // an entry of a bare-array body (/user/onlinestatus): "body.1", not "1"
  if (/^\d/.test(path)) path = `body.${path}`
  let message = first?.message ?? 'invalid value'
  if (message === 'Expected required property') message = 'is required'
  return `${path}: ${message}`
}

function refuseNul(value: unknown): void {
  const at = nulPath(value)
  if (at) throw new DomainError('invalid', `${at}: must not contain a NUL character`)
}

/*
 * Every route also says `parse: 'json'`: the parse hook below always answers first, so Elysia's own
 * parser never runs, but the OpenAPI generator only documents a request body's content for named parsers.
 */
export function wukongimBase(ctx: AppContext) {
  const bodyLimit = maxBodyBytes(ctx.config.maxPayloadBytes)
  return new Elysia()
    .onParse(async ({ request, server, path }) => {
      authorizeManager(ctx, request, server)
      const text = await readBodyText(request, bodyLimit)
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
      // Elysia's normalizer would turn an array into {} before validation: `header` is the only nested object field.
      if (Array.isArray((body as { header?: unknown }).header)) throw new DomainError('invalid', 'header: Expected an object')
      // JSON can only spell a NUL as the escape \u0000: skip the walk of the parsed body without one.
      if (mayHoldNul(text)) refuseNul(body)
      refuseUnprintable(text, body)
      return body
    })
    .onTransform(({ request, server, query }) => {
      authorizeManager(ctx, request, server)
      refuseNul(query)
    })
    .onError(({ code, error: raw, set }) => {
      const error = unwrapParseRefusal(code, raw)
      if (error instanceof DomainError) {
        const status = HTTP_STATUS[error.kind]
        set.status = status
        if (error instanceof BodyTooLarge) set.headers.connection = 'close'
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

/** A TypeBox schema is a JSON Schema; OpenAPI's typings just don't know TypeBox's classes. */
type OpenApiSchema = NonNullable<NonNullable<NonNullable<DocumentDecoration['parameters']>[number] & { schema?: unknown }>['schema']>
const openApiSchema = (s: TSchema) => s as unknown as OpenApiSchema
const json = (description: string, schema: TSchema) => ({ description, content: { 'application/json': { schema: openApiSchema(schema) } } })
const ERRORS = {
  400: json('invalid input: msg names the field', ErrorBody),
  401: json('bad or missing manager token', ErrorBody),
  403: json('not allowed (not a member, blacklisted, banned …)', ErrorBody),
  404: json('unknown channel, stream or message', ErrorBody),
  413: json('payload too large', ErrorBody),
}

/** OpenAPI detail of a route: its 200 body (default `{status:200}`) and the `{status,msg}` errors. */
export const doc = (summary: string, response: TSchema = Ok) => ({
  tags: ['wukongim'],
  summary,
  responses: { 200: json('success', response), ...ERRORS },
})
