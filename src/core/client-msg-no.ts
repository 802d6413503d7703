/**
 * client_msg_no for a send that brought none: 32 hex characters, like a dash-less UUID, unique
 * without coordination — a random prefix per process and a counter. A generated number is never
 * looked up (no idempotence to honour), it only has to differ from every other; one randomUUID
 * per message cost more than the rest of a live send's bookkeeping.
 */
import { randomBytes } from 'node:crypto'

const PREFIX = randomBytes(8).toString('hex')
let counter = 0

export function generatedClientMsgNo(): string {
  counter++
  return PREFIX + counter.toString(16).padStart(16, '0')
}
