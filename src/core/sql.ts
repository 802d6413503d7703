/**
 * Raw SQL helpers for the domain: one place that hides the two drivers' result shapes.
 * Hot paths use hand-written SQL (one statement per batch) rather than the query builder.
 */
import type { SQL } from 'drizzle-orm'
import type { Db, Tx } from '../db/client'
import { rowsOf } from '../db/migrate'

export type Executor = Db | Tx

export async function rows<T = Record<string, unknown>>(db: Executor, query: SQL): Promise<T[]> {
  return rowsOf<T>(await db.execute(query))
}

/** bytea comes back as Buffer (postgres.js) or Uint8Array (PGlite): expose one type. */
export function bytes(value: unknown): Uint8Array {
  if (value instanceof Uint8Array) return value
  if (typeof value === 'string') return Buffer.from(value.startsWith('\\x') ? value.slice(2) : value, 'hex')
  return new Uint8Array()
}

/** A key for maps of channels. */
export const channelKeyOf = (channelId: string, channelType: number) => `${channelType}:${channelId}`
