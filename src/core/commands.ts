/**
 * Per-uid command queues (write diffusion for sync_once messages). Entries are written by the
 * group-commit writer; here they are read (/message/sync) and acknowledged (/message/syncack).
 */
import { sql } from 'drizzle-orm'
import type { Db } from '../db/client'
import type { CommandQueueService } from './core'
import { type MessageRow, messageColumnsOf, toMessage } from './message-row'
import { rows } from './sql'

export function createCommandQueueService(db: Db): CommandQueueService {
  return {
    async sync(uid, limit) {
      const found = await rows<MessageRow & { seq: number }>(
        db,
        sql`select q.seq, ${sql.raw(messageColumnsOf('m'))}
            from command_queue q
            join users u on u.uid = q.uid
            join messages m on m.message_id = q.message_id
            where q.uid = ${uid} and q.seq > u.cmd_acked_seq
            order by q.seq limit ${Math.max(1, limit)}`,
      )
      return found.map((r) => ({ ...toMessage(r), messageSeq: Number(r.seq) }))
    },
    async ack(uid, lastMessageSeq) {
      if (lastMessageSeq <= 0) return
      await db.transaction(async (tx) => {
        await tx.execute(sql`update users set cmd_acked_seq = greatest(cmd_acked_seq, least(${lastMessageSeq}, cmd_last_seq)) where uid = ${uid}`)
        await tx.execute(sql`delete from command_queue where uid = ${uid} and seq <= ${lastMessageSeq}`)
      })
    },
  }
}
