/**
 * LLM-style streams: /stream/open stores an anchor message (a normal history message with a
 * stream_no); chunks sent with that stream_no are stored under the anchor (no seq of their own)
 * and delivered live in order; /stream/close ends it. Chunks of one stream are written one at a
 * time (a per-stream promise chain) so stream_seq is gapless and in arrival order.
 */
import { randomUUID } from 'node:crypto'
import { sql } from 'drizzle-orm'
import type { Db } from '../db/client'
import { storedChannelId } from './channel-id'
import { generatedClientMsgNo } from './client-msg-no'
import type { StreamService } from './core'
import { forbidden, invalid, notFound } from './errors'
import type { CoreEvents } from './events'
import { checkShape, prepareSend, type SendCheckDeps } from './send-check'
import { bytes, rows } from './sql'
import type { ChannelKey, Message, SendInput, SendResult } from './types'
import type { GroupCommitWriter } from './writer'

interface StreamRow {
  stream_no: string
  message_id: number
  channel_id: string
  channel_type: number
  from_uid: string
  closed: number
  message_seq: number
}

export interface StreamInternals extends StreamService {
  append(input: SendInput & { streamNo: string }): Promise<SendResult>
  /** attaches `streams` and `streamEnd` to the anchors among these messages */
  attach(messages: Message[]): Promise<Message[]>
}

export function createStreamService(db: Db, events: CoreEvents, writer: GroupCommitWriter, deps: SendCheckDeps): StreamInternals {
  const chains = new Map<string, Promise<unknown>>()

  async function find(streamNo: string): Promise<StreamRow | undefined> {
    const [row] = await rows<StreamRow>(
      db,
      sql`select s.stream_no, s.message_id, s.channel_id, s.channel_type, s.from_uid, s.closed, m.message_seq
          from streams s join messages m on m.message_id = s.message_id where s.stream_no = ${streamNo}`,
    )
    return row
  }

  function serialized<T>(streamNo: string, fn: () => Promise<T>): Promise<T> {
    const prev = chains.get(streamNo) ?? Promise.resolve()
    const next = prev.then(fn, fn)
    const tail = next.catch(() => {})
    chains.set(streamNo, tail)
    void tail.then(() => {
      if (chains.get(streamNo) === tail) chains.delete(streamNo)
    })
    return next
  }

  function sameChannel(s: StreamRow, viewer: string, key: ChannelKey): boolean {
    return s.channel_type === key.channelType && s.channel_id === storedChannelId(viewer, key.channelId, key.channelType)
  }

  return {
    async open(input) {
      const streamNo = randomUUID().replaceAll('-', '')
      const item = await prepareSend(deps, input, streamNo)
      const r = await writer.submit(item)
      // A repeated client_msg_no answers the stream opened the first time.
      return { streamNo: r.message.streamNo ?? streamNo, messageId: r.messageId, messageSeq: r.messageSeq }
    },

    append(input) {
      checkShape(input, deps.maxPayloadBytes)
      return serialized(input.streamNo, async () => {
        const s = await find(input.streamNo)
        if (!s) throw notFound(`stream_no: stream ${input.streamNo} does not exist`)
        if (!sameChannel(s, input.fromUid, input)) throw invalid('stream_no: the stream belongs to another channel')
        if (s.from_uid !== input.fromUid) throw forbidden('from_uid: only the stream opener may append to it')
        if (s.closed) throw forbidden('stream_no: the stream is closed')
        const clientMsgNo = input.clientMsgNo || generatedClientMsgNo()
        const streamSeq = await db.transaction(async (tx) => {
          if (input.clientMsgNo) {
            const [dup] = await rows<{ stream_seq: number }>(tx, sql`select stream_seq from stream_chunks where stream_no = ${s.stream_no} and client_msg_no = ${clientMsgNo}`)
            if (dup) return -Number(dup.stream_seq)
          }
          const [bumped] = await rows<{ last_chunk_seq: number }>(
            tx,
            sql`update streams set last_chunk_seq = last_chunk_seq + 1 where stream_no = ${s.stream_no} returning last_chunk_seq`,
          )
          const seq = Number(bumped!.last_chunk_seq)
          await tx.execute(sql`insert into stream_chunks (stream_no, stream_seq, client_msg_no, payload) values (${s.stream_no}, ${seq}, ${clientMsgNo}, ${input.payload})`)
          return seq
        })
        const channel = { channelId: s.channel_id, channelType: Number(s.channel_type) }
        if (streamSeq > 0)
          events.emit({ type: 'stream_chunk', channel, streamNo: s.stream_no, streamSeq, anchorMessageId: Number(s.message_id), fromUid: s.from_uid, clientMsgNo, payload: input.payload, end: false })
        const message: Message = {
          messageId: Number(s.message_id),
          messageSeq: Number(s.message_seq),
          clientMsgNo,
          fromUid: s.from_uid,
          ...channel,
          header: { noPersist: 0, redDot: 1, syncOnce: 0 },
          setting: input.setting ?? 0,
          timestamp: Math.floor(Date.now() / 1000),
          sendTimeUs: Date.now() * 1000,
          payload: input.payload,
          type: input.type ?? 0,
          status: input.status ?? 0,
          streamNo: s.stream_no,
          expire: 0,
        }
        return { messageId: message.messageId, messageSeq: message.messageSeq, clientMsgNo, message }
      })
    },

    close(streamNo, key) {
      return serialized(streamNo, async () => {
        const s = await find(streamNo)
        if (!s) throw notFound(`stream_no: stream ${streamNo} does not exist`)
        if (!sameChannel(s, s.from_uid, key) && !(s.channel_id === key.channelId && s.channel_type === key.channelType))
          throw invalid('stream_no: the stream belongs to another channel')
        if (s.closed) return
        const [row] = await rows<{ last_chunk_seq: number }>(db, sql`update streams set closed = 1 where stream_no = ${streamNo} returning last_chunk_seq`)
        events.emit({
          type: 'stream_chunk',
          channel: { channelId: s.channel_id, channelType: Number(s.channel_type) },
          streamNo,
          streamSeq: Number(row!.last_chunk_seq),
          anchorMessageId: Number(s.message_id),
          fromUid: s.from_uid,
          clientMsgNo: '',
          payload: new Uint8Array(),
          end: true,
        })
      })
    },

    async attach(messages) {
      const nos = messages.filter((m) => m.streamNo).map((m) => m.streamNo!)
      if (!nos.length) return messages
      const list = JSON.stringify(nos)
      const closed = await rows<{ stream_no: string; closed: number }>(
        db,
        sql`select stream_no, closed from streams where stream_no in (select jsonb_array_elements_text(${list}::jsonb))`,
      )
      const chunks = await rows<{ stream_no: string; stream_seq: number; payload: unknown }>(
        db,
        sql`select stream_no, stream_seq, payload from stream_chunks
            where stream_no in (select jsonb_array_elements_text(${list}::jsonb)) order by stream_no, stream_seq`,
      )
      const ended = new Map(closed.map((c) => [c.stream_no, Number(c.closed) ? 1 : 0] as const))
      for (const m of messages) {
        if (!m.streamNo) continue
        m.streams = chunks.filter((c) => c.stream_no === m.streamNo).map((c) => ({ streamSeq: Number(c.stream_seq), payload: bytes(c.payload) }))
        m.streamEnd = (ended.get(m.streamNo) ?? 0) as 0 | 1
      }
      return messages
    },
  }
}
