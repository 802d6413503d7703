/**
 * Walks of a parsed JSON body for what validation cannot be trusted with; both APIs refuse what
 * they find as invalid input naming the field.
 */

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

/**
 * An object with its own `toString` or `valueOf` key: it cannot be turned into text, and the
 * validator's error message does exactly that for a field that should have been a string (it
 * would fail with a TypeError instead of naming the field). JSON cannot spell either otherwise.
 */
export function unprintablePath(body: unknown): string | undefined {
  return findPath(body, '', (_, v) => typeof v === 'object' && v !== null && (Object.hasOwn(v, 'toString') || Object.hasOwn(v, 'valueOf')))
}

/** what a refusal of an unprintable value says */
export const UNPRINTABLE = 'an object with a "toString" or "valueOf" key is not accepted'

/** Cheap pre-checks on the raw text: the walks are needed only when these hold. */
export const mayHoldNul = (text: string) => text.includes('\\u0000')
export const mayBeUnprintable = (text: string) => text.includes('"toString"') || text.includes('"valueOf"')
