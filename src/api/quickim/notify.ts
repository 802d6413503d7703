/**
 * GET /notify?token=&protoc=ws|sse|poll (SPEC §4): real-time delivery of every message of every
 * conversation the session belongs to, through the hub.
 * - ws: topic path (frames published once per channel and format); close 4001 when replaced.
 * - sse: callback path into a bounded SseStream; Last-Event-ID replays from history.
 * - poll: callback path into a buffer while waiting; stored position per (session, platform).
 */
import type { Server, ServerWebSocket } from 'bun'
import { Elysia, t } from 'elysia'
import { CHANNEL_PERSON, type Message } from '../../core/types'
import { PollCursors } from '../../core/quickim/poll-cursors'
import { parseMsgId } from '../../core/quickim/msg-id'
import { quickImMessage } from '../../core/quickim/message-view'
import type { TokenClaims } from '../../core/quickim/token'
import type { AppContext } from '../../context'
import type { Hub } from '../../realtime/hub'
import { SseStream } from '../../realtime/sse-stream'
import type { Delivery, HubConnection } from '../../realtime/types'
import type { QuickImAuth } from './auth'
import { CODE, QuickImError } from './envelope'
import { QIM_JSON, QIM_MSGPACK, QIM_SSE, sseEvent } from './frames'
import { envelope, notifyQuery, openApiSchema, reply } from './model'

const POLL_DEFAULT_S = 25
const POLL_MAX_S = 60
const SSE_HEARTBEAT_MS = 15_000
const REPLAY_PAGE = 500
const POLL_PAGE = 1000
/** bytes counted per held-back SSE message besides its payload (ids, names, JSON) */
const PENDING_OVERHEAD = 256
/** quick-im connections report this WuKongIM device flag in /user/onlinestatus */
const QUICKIM_DEVICE_FLAG = 1

/** a message of channel history (live-only ones, no_persist or scoped, have no seq) */
const isStored = (m: Message) => m.messageSeq > 0

/** Resolves after `seconds`, or at once when the returned wake function is called or the client goes away. */
function waitForDelivery(seconds: number, signal: AbortSignal, setWake: (wake: () => void) => void): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, seconds * 1000)
    const wake = () => {
      clearTimeout(timer)
      signal.removeEventListener('abort', wake)
      resolve()
    }
    setWake(wake)
    signal.addEventListener('abort', wake)
  })
}

/** the viewer a frame is encoded for: only person channels differ per viewer */
const viewerOf = (m: Message, uid: string) => (m.channelType === CHANNEL_PERSON ? uid : '')
const replaceKeyOf = (c: TokenClaims) => `quickim\u0001${c.session}\u0001${c.platform}`
let connectionCounter = 0
const connectionId = (kind: string) => `qim-${kind}-${process.pid}-${++connectionCounter}`

export interface NotifyOptions {
  sseHeartbeatMs?: number
}

export function notifyRoutes(ctx: AppContext, hub: Hub, auth: QuickImAuth, opts: NotifyOptions = {}) {
  const cursors = new PollCursors(ctx.database.db)
  const { core, log } = ctx

  function ws(claims: TokenClaims, format: string, request: Request, server: Server<unknown> | null) {
    if (!server) throw new QuickImError(CODE.invalidParam, 'invalid parameter: protoc (WebSocket needs a listening server)')
    let conn: HubConnection | undefined
    const upgraded = server.upgrade(request, {
      // Elysia's Bun adapter dispatches WebSocket events to these callbacks of ws.data.
      data: {
        open(socket: ServerWebSocket<unknown>) {
          conn = {
            id: connectionId('ws'),
            uid: claims.session,
            transport: 'quickim-ws',
            deviceFlag: QUICKIM_DEVICE_FLAG,
            auth: 'im_token',
            replaceKey: replaceKeyOf(claims),
            topic: { socket, format },
            close: (reason) => {
              if (reason === 'slow_consumer') socket.terminate()
              else socket.close(reason === 'replaced' ? 4001 : reason === 'kicked' ? 4003 : 1001, reason)
            },
          }
          hub.attach(conn).catch((err) => {
            log.error('notify ws attach failed', { error: err instanceof Error ? err.message : String(err) })
            socket.close(1011, 'internal error')
          })
        },
        message() {
          // the client has nothing to say on this socket
        },
        close() {
          if (conn) hub.detach(conn)
        },
      },
    })
    if (!upgraded) throw new QuickImError(CODE.invalidParam, 'invalid parameter: protoc=ws needs a WebSocket upgrade request')
    return undefined
  }

  async function sse(claims: TokenClaims, request: Request, server: Server<unknown> | null) {
    const lastEventId = request.headers.get('last-event-id')
    let replayFrom: number | undefined
    if (lastEventId) {
      const id = parseMsgId(lastEventId)
      if (id === 'malformed') throw new QuickImError(CODE.invalidParam, 'invalid parameter: Last-Event-ID')
      replayFrom = id === 'unknown' ? Number.MAX_SAFE_INTEGER : id
    }
    server?.timeout(request, 0)
    const uid = claims.session
    // live messages held back while a replay runs; bounded like the stream itself
    let pending: Message[] | undefined = replayFrom !== undefined ? [] : undefined
    let pendingBytes = 0
    const conn: HubConnection = {
      id: connectionId('sse'),
      uid,
      transport: 'quickim-sse',
      deviceFlag: QUICKIM_DEVICE_FLAG,
      auth: 'im_token',
      replaceKey: replaceKeyOf(claims),
      deliver(d: Delivery) {
        if (d.type !== 'message') return
        if (!pending) stream.write(d.frame(QIM_SSE, viewerOf(d.message, uid)))
        else if ((pendingBytes += d.message.payload.byteLength + PENDING_OVERHEAD) + stream.queued > hub.sendBufferLimit) stream.cutOff()
        else pending.push(d.message)
      },
      close: (reason) => {
        if (reason === 'replaced') stream.end('event: kickout\ndata: {"reason":"replaced"}\n\n')
        else stream.end()
      },
    }
    const stream = new SseStream(hub.sendBufferLimit, opts.sseHeartbeatMs ?? SSE_HEARTBEAT_MS, () => hub.detach(conn))
    request.signal.addEventListener('abort', () => stream.end())
    stream.comment('connected')
    await hub.attach(conn)
    if (replayFrom !== undefined) void replay(conn, stream, replayFrom, () => {
      const live = pending!
      pending = undefined
      return live
    })
    return new Response(stream.body, {
      headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' },
    })
  }

  /** Sends history after `from`, then what arrived live meanwhile (without repeats), then goes live. */
  async function replay(conn: HubConnection, stream: SseStream, from: number, takeLive: () => Message[]) {
    const encode = (m: Message) => sseEvent(m, conn.uid)
    let last = from
    try {
      const keys = await core.channels.channelsOf(conn.uid)
      for (;;) {
        const page = await core.messages.since(keys, last, REPLAY_PAGE)
        for (const m of page) {
          // wait for the reader before each event: a replay larger than the buffer is not a slow consumer
          await stream.drained()
          if (!stream.write(encode(m))) return
          last = m.messageId
        }
        if (page.length < REPLAY_PAGE || stream.isClosed) break
      }
    } catch (err) {
      log.error('sse replay failed', { error: err instanceof Error ? err.message : String(err) })
      stream.end()
      return
    }
    for (const m of takeLive()) {
      if (m.messageSeq > 0 && m.messageId <= last) continue
      if (!stream.write(encode(m))) return
    }
  }

  async function poll(claims: TokenClaims, query: { cursor?: string; timeout?: string }, request: Request, server: Server<unknown> | null) {
    const timeoutS = Math.min(query.timeout === undefined ? POLL_DEFAULT_S : Number(query.timeout), POLL_MAX_S)
    let cursor: number
    if (query.cursor !== undefined && query.cursor !== '') {
      const id = parseMsgId(query.cursor)
      if (id === 'malformed') throw new QuickImError(CODE.invalidParam, 'invalid parameter: cursor')
      cursor = id === 'unknown' ? Number.MAX_SAFE_INTEGER : id
    } else {
      const stored = await cursors.get(claims.session, claims.platform)
      // A first poll starts now: no history.
      cursor = stored ?? (await cursors.newestMessageId())
    }
    server?.timeout(request, 0)
    const uid = claims.session
    const live: { message: Message; frame: string }[] = []
    let wake: (() => void) | undefined
    const conn: HubConnection = {
      id: connectionId('poll'),
      uid,
      transport: 'quickim-poll',
      deviceFlag: QUICKIM_DEVICE_FLAG,
      auth: 'im_token',
      deliver(d: Delivery) {
        if (d.type !== 'message') return
        live.push({ message: d.message, frame: d.frame(QIM_JSON, viewerOf(d.message, uid)) as string })
        wake?.()
      },
      close: () => wake?.(),
    }
    // Subscribe first, then read history: whatever commits in between is in one or the other.
    // Stored messages are always answered from the database (a live delivery only wakes the
    // poll): the answer is then a gapless run of ids, whatever order deliveries came in and
    // however many are pending. Live-only messages (no_persist, scoped) ride along as delivered.
    await hub.attach(conn)
    let stored: Message[]
    try {
      const readStored = () => core.messages.since(hub.channelsOfConnection(conn.id), cursor, POLL_PAGE)
      stored = await readStored()
      if (!stored.length && timeoutS > 0) {
        if (!live.length) await waitForDelivery(timeoutS, request.signal, (w) => (wake = w))
        if (live.some((l) => isStored(l.message))) stored = await readStored()
      }
    } finally {
      hub.detach(conn)
    }
    const frames = stored.map((m) => JSON.stringify(quickImMessage(m, uid)))
    for (const l of live) if (!isStored(l.message)) frames.push(l.frame)
    // a client that went away never got this answer: it resumes where it asked from
    const answered = stored.length && !request.signal.aborted ? stored.at(-1)!.messageId : cursor
    await cursors.set(claims.session, claims.platform, answered)
    if (!frames.length) return new Response(null, { status: 204 })
    return new Response(`{"code":0,"data":{"Msg":[${frames.join(',')}]}}`, { headers: { 'content-type': 'application/json' } })
  }

  return new Elysia().get(
    '/notify',
    async ({ query, request, server }) => {
      const protoc = query.protoc
      if (protoc !== 'ws' && protoc !== 'sse' && protoc !== 'poll')
        throw new QuickImError(CODE.unsupportedProtoc, `unsupported protoc "${String(protoc ?? '').slice(0, 32)}" (ws, sse or poll)`)
      const claims = await auth.client(request, query.token)
      if (protoc === 'ws') return ws(claims, query.format === 'msgpack' ? QIM_MSGPACK : QIM_JSON, request, server)
      if (protoc === 'sse') return sse(claims, request, server)
      return poll(claims, query, request, server)
    },
    {
      query: notifyQuery,
      detail: {
        tags: ['quick-im'],
        summary: 'Real-time messages: protoc=ws (JSON or format=msgpack frames), sse (Last-Event-ID replay) or poll (cursor, timeout ≤ 60 s)',
        responses: {
          200: {
            description: 'poll: the messages since the cursor; sse: `text/event-stream` of `id: <MsgId>`, `event: message`, `data: <message JSON>`; errors: the envelope',
            content: {
              'application/json': { schema: openApiSchema(envelope(reply.messages)) },
              'text/event-stream': { schema: openApiSchema(t.String()) },
            },
          },
          101: { description: 'ws: one message per frame (JSON text, or binary msgpack with format=msgpack)' },
          204: { description: 'poll: nothing came before the timeout' },
        },
      },
    },
  )
}
