/**
 * What both APIs check of a request body before validation: its size while reading it, and walks
 * of the parsed JSON for what the validator cannot be trusted with. Refusals name the field.
 */
import { DomainError } from '../core/errors'

/**
 * The largest request body either API reads (bytes): room for a payload at the configured limit
 * as base64 twice over (a batch) plus 16 MiB of ids (100,000 subscribers of 64 characters take
 * 6.7 MB), at least 32 MiB.
 */
export function maxBodyBytes(maxPayloadBytes: number): number {
  return Math.max(32 << 20, 2 * Math.ceil(maxPayloadBytes / 3) * 4 + (16 << 20))
}

/**
 * Refusal of a body over the limit (413 / 10001): the reading stops there, an announced one is
 * not read at all. Its answer closes the connection: otherwise the server would go on reading the
 * announced bytes to keep the connection alive.
 */
export class BodyTooLarge extends DomainError {
  constructor(limit: number, announced?: number) {
    super('too_large', announced !== undefined ? `body: ${announced} bytes is over the limit of ${limit} bytes` : `body: over the limit of ${limit} bytes`)
  }
}

/** The body as text, refusing more than `limit` bytes (Bun's own limit is off: see server.ts). */
export async function readBodyText(request: Request, limit: number): Promise<string> {
  const announced = request.headers.get('content-length')
  if (announced !== null) {
    // HTTP/1.1 delivers exactly the announced length, so text() cannot read more
    if (Number(announced) > limit) throw new BodyTooLarge(limit, Number(announced))
    return request.text()
  }
  if (!request.body) return ''
  const chunks: Uint8Array[] = []
  let total = 0
  const reader = request.body.getReader()
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    total += value.byteLength
    if (total > limit) {
      void reader.cancel().catch(() => {})
      throw new BodyTooLarge(limit)
    }
    chunks.push(value)
  }
  return Buffer.concat(chunks).toString('utf8')
}

/** What reached an API's onError: Elysia wraps what a parse hook throws in a ParseError, our own refusal is its cause. */
export function unwrapParseRefusal(code: unknown, error: unknown): unknown {
  const cause = code === 'PARSE' ? (error as { cause?: unknown }).cause : undefined
  return cause instanceof DomainError ? cause : error
}

/** The path of the first value where `bad(key, value)` holds, keys included ("a.b.0"); "body" at the root. */
function findPath(value: unknown, path: string, bad: (key: string | undefined, value: unknown) => boolean, key?: string): string | undefined {
  if (bad(key, value)) return path || 'body'
  if (typeof value !== 'object' || value === null) return undefined
  for (const [k, v] of Object.entries(value)) {
    const found = findPath(v, path ? `${path}.${k}` : k, bad, k)
    if (found) return found
  }
  return undefined
}

/** A string or key holding a NUL: Postgres text cannot store one, so it must not reach the database. */
export function nulPath(body: unknown): string | undefined {
  return findPath(body, '', (k, v) => k?.includes('\0') === true || (typeof v === 'string' && v.includes('\0')))
}

const MAY_BE_UNPRINTABLE = /toString|valueOf|\\u/

/**
 * Refuses an object with its own `toString` or `valueOf` key: it cannot be turned into text, and
 * the validator's error message does exactly that for a field that should have been a string (it
 * would fail with a TypeError instead of naming the field). The walk runs only when the raw text
 * holds one of the names or a `\u` escape (a key may be spelled `"to\u0053tring"`).
 */
export function refuseUnprintable(text: string, body: unknown): void {
  if (!MAY_BE_UNPRINTABLE.test(text)) return
  const at = findPath(body, '', (_, v) => typeof v === 'object' && v !== null && (Object.hasOwn(v, 'toString') || Object.hasOwn(v, 'valueOf')))
  if (at) throw new DomainError('invalid', `${at}: an object with a "toString" or "valueOf" key is not accepted`)
}

/** Cheap pre-check on the raw text: JSON can only spell a NUL as the escape \u0000. */
export const mayHoldNul = (text: string) => text.includes('\\u0000')
