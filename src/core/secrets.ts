/**
 * Server-wide secrets kept in the database: generated once on first start, then read back,
 * so every node of a cluster and every restart uses the same value.
 */
import { randomBytes } from 'node:crypto'
import { eq } from 'drizzle-orm'
import type { Db } from '../db/client'
import { serverSecrets } from '../db/schema'

export async function loadOrCreateSecret(db: Db, name: string): Promise<string> {
  const candidate = randomBytes(32).toString('base64url')
  await db.insert(serverSecrets).values({ name, value: candidate }).onConflictDoNothing()
  const [row] = await db.select().from(serverSecrets).where(eq(serverSecrets.name, name))
  return row!.value
}
