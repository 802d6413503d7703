/**
 * quick-im's response envelope (SPEC §4): always HTTP 200, `{"code":0,"data":…}` or
 * `{"code":N,"error":"…"}`. Domain errors, validation errors and anything unexpected map here.
 */
import { DomainError } from '../../core/errors'
import type { Logger } from '../../log'

export const CODE = {
  ok: 0,
  invalidParam: 10001,
  internal: 10002,
  notAllowed: 10003,
  notFound: 10004,
  archived: 10005,
  badToken: 10101,
  unsupportedProtoc: 90013,
} as const

/** An error that already carries its quick-im code. */
export class QuickImError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message)
  }
}

export const ok = <T>(data: T) => ({ code: 0 as const, data })
export const fail = (code: number, error: string) => ({ code, error })

const KIND_CODE: Record<DomainError['kind'], number> = {
  invalid: CODE.invalidParam,
  too_large: CODE.invalidParam,
  forbidden: CODE.notAllowed,
  not_found: CODE.notFound,
  archived: CODE.archived,
  unauthorized: CODE.badToken,
}

/** Maps whatever reached the plugin's onError to the envelope; never leaks internals. */
export function errorEnvelope(code: unknown, error: unknown, log: Logger): { code: number; error: string } {
  if (error instanceof QuickImError) return fail(error.code, error.message)
  if (error instanceof DomainError) return fail(KIND_CODE[error.kind], error.message)
  if (code === 'VALIDATION') return fail(CODE.invalidParam, `invalid parameter: ${validationField(error)}`)
  if (code === 'PARSE') return fail(CODE.invalidParam, 'invalid parameter: body is not valid JSON')
  if (code === 'NOT_FOUND') return fail(CODE.notFound, 'route not found')
  log.error('quick-im internal error', { error: error instanceof Error ? error.message : String(error) })
  return fail(CODE.internal, 'internal error')
}

/** The first invalid field of an Elysia ValidationError ("body" when the body itself is wrong). */
function validationField(error: unknown): string {
  const e = error as { type?: string; valueError?: { path?: string }; all?: { path?: string }[] }
  const path = e.valueError?.path ?? e.all?.[0]?.path ?? ''
  const field = path.replace(/^\//, '').replace(/\//g, '.')
  return field || (e.type === 'query' ? 'query' : 'body')
}
