/**
 * Stored long-poll positions of quick-im /notify?protoc=poll, per (session, platform): the
 * message_id up to which that poller has been answered.
 */
import { and, eq, max } from 'drizzle-orm'
import type { Db } from '../../db/client'
import { messages, pollCursors } from '../../db/schema'

export class PollCursors {
  constructor(private readonly db: Db) {}

  async get(session: string, platform: number): Promise<number | undefined> {
    const [row] = await this.db
      .select({ id: pollCursors.lastMessageId })
      .from(pollCursors)
      .where(and(eq(pollCursors.session, session), eq(pollCursors.platform, platform)))
    return row?.id
  }

  async set(session: string, platform: number, lastMessageId: number): Promise<void> {
    await this.db
      .insert(pollCursors)
      .values({ session, platform, lastMessageId })
      .onConflictDoUpdate({ target: [pollCursors.session, pollCursors.platform], set: { lastMessageId } })
  }

  /** The newest committed message_id: where a first poll starts ("now", no history). */
  async newestMessageId(): Promise<number> {
    const [row] = await this.db.select({ id: max(messages.messageId) }).from(messages)
    return Number(row?.id ?? 0)
  }
}
