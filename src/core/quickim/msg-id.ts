/**
 * quick-im MsgId strings (SPEC §4): the message_id as 16 base-32 digits of
 * `23456789ABCDEFGHJKLMNPQRSTUVWXYZ`, left-padded with `2` (the zero digit), grouped 5-4-4-3:
 * `22222-2222-2B7K-9QX`. Fixed width, so they sort as strings in send order.
 */

const ALPHABET = '23456789ABCDEFGHJKLMNPQRSTUVWXYZ'
const DIGITS = 16
const VALUE = new Map<string, number>([...ALPHABET].map((c, i) => [c, i]))
const GROUPED = /^([2-9A-HJ-NP-Z]{5})-([2-9A-HJ-NP-Z]{4})-([2-9A-HJ-NP-Z]{4})-([2-9A-HJ-NP-Z]{3})$/
/** any length: a well-formed decimal above 2^53−1 is unknown, not malformed (callers bound the length) */
const DECIMAL = /^\d+$/

export function encodeMsgId(messageId: number): string {
  if (!Number.isSafeInteger(messageId) || messageId < 0) throw new RangeError(`not a message id: ${messageId}`)
  let n = messageId
  let digits = ''
  while (n > 0) {
    digits = ALPHABET[n % 32] + digits
    n = Math.floor(n / 32)
  }
  const s = digits.padStart(DIGITS, '2')
  return `${s.slice(0, 5)}-${s.slice(5, 9)}-${s.slice(9, 13)}-${s.slice(13)}`
}

/**
 * Parses a MsgId string or a decimal message_id. Returns:
 * - a number: a well-formed id that can name a stored message (≤ 2^53−1);
 * - 'unknown': well-formed, but too large to name any message (caller answers "not found");
 * - 'malformed': not an id at all (caller answers "invalid parameter").
 */
export function parseMsgId(input: string): number | 'unknown' | 'malformed' {
  let value: bigint
  const s = input.trim().toUpperCase()
  const grouped = GROUPED.exec(s)
  if (grouped) {
    value = 0n
    for (const c of grouped.slice(1).join('')) value = value * 32n + BigInt(VALUE.get(c)!)
  } else if (DECIMAL.test(s)) {
    value = BigInt(s)
  } else {
    return 'malformed'
  }
  return value > BigInt(Number.MAX_SAFE_INTEGER) ? 'unknown' : Number(value)
}
