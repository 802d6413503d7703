/**
 * GET /metrics: Prometheus text exposition (format 0.0.4), written by hand. Everything on the hot
 * path is a plain number bumped in place (no allocation per message); the text is built only when
 * scraped. Connection gauges and delivery counters are read from the hub at scrape time.
 */
import { Elysia, t } from 'elysia'
import { authorizeManager } from '../api/wukongim/base'
import type { AppContext } from '../context'
import type { WriteKind, WriteObserver } from '../core/writer'

/** send-to-commit latency buckets, seconds (the commit itself is one WAL flush: ~1–5 ms) */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]

/** transports always listed (0 when none), so dashboards see every series from the start */
const TRANSPORTS = ['quickim-ws', 'quickim-sse', 'quickim-poll', 'wkproto-ws', 'wkproto-tcp', 'wkproto-jsonrpc']

/** What the metrics read besides their own counters; bound once the node is assembled. */
export interface MetricsSources {
  connections(): Record<string, number>
  hubCounters: { publishes: number; callbackDeliveries: number; slowConsumers: number }
  /** rows in webhook_outbox (undefined: cannot tell right now) */
  webhookBacklog?(): Promise<number | undefined>
  webhookCounters?: { delivered: number; failed: number }
  /** a cluster node: its bus (NATS) and the per-channel reordering of other nodes' messages */
  cluster?: {
    peers(): number
    connected(): boolean
    counters: { published: number; received: number; publishErrors: number; badFrames: number; outboxDropped: number }
    reorder: { held: number; gapsSkipped: number; late: number; stallsWaited: number }
  }
}

export class Metrics implements WriteObserver {
  /** acknowledged sends: [persisted|no_persist] × [server API|live connection] */
  readonly sends = { persistedApi: 0, persistedConnection: 0, liveApi: 0, liveConnection: 0 }
  /** non-cumulative bucket counts; the last slot is +Inf */
  private readonly latencyCounts = new Array<number>(LATENCY_BUCKETS.length + 1).fill(0)
  private latencySum = 0
  private latencyCount = 0
  /** group-commit batches: how many, how many sends in them, seconds spent in their statements */
  readonly batches = { count: 0, items: 0, seconds: 0, synchronous: 0 }
  /** WAL-flush statements the writer timed (read marks, barrier, probes) and their wall time */
  readonly walFlushes = { count: 0, seconds: 0 }
  private sources: MetricsSources | undefined

  bind(sources: MetricsSources): void {
    this.sources = sources
  }

  /** WriteObserver: called by the writer for every acknowledged send */
  acknowledged(kind: WriteKind, viaConnection: boolean, commitMs: number): void {
    if (kind === 'live') {
      if (viaConnection) this.sends.liveConnection++
      else this.sends.liveApi++
      return
    }
    if (viaConnection) this.sends.persistedConnection++
    else this.sends.persistedApi++
    const seconds = commitMs / 1000
    let i = 0
    while (i < LATENCY_BUCKETS.length && seconds > LATENCY_BUCKETS[i]!) i++
    this.latencyCounts[i]!++
    this.latencySum += seconds
    this.latencyCount++
  }

  /** WriteObserver: called by the writer after each batch statement */
  batchCommitted(items: number, statementMs: number, synchronous: boolean): void {
    this.batches.count++
    if (synchronous) this.batches.synchronous++
    this.batches.items += items
    this.batches.seconds += statementMs / 1000
  }

  /** WriteObserver: a WAL-flush statement returned */
  walFlushed(ms: number): void {
    this.walFlushes.count++
    this.walFlushes.seconds += ms / 1000
  }

  async render(): Promise<string> {
    const out: string[] = []
    const metric = (name: string, type: string, help: string) => out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`)
    const s = this.sources

    metric('bunim_connections', 'gauge', 'Live client connections on this node, per transport.')
    const conns: Record<string, number> = {}
    for (const t of TRANSPORTS) conns[t] = 0
    Object.assign(conns, s?.connections() ?? {})
    for (const [t, n] of Object.entries(conns)) out.push(`bunim_connections{transport="${escapeLabel(t)}"} ${n}`)

    metric('bunim_sends_total', 'counter', 'Acknowledged sends on this node, by kind (persisted = stored; no_persist = live only) and origin (api = HTTP server APIs, connection = a live client connection, i.e. WKProto SEND).')
    out.push(
      `bunim_sends_total{kind="persisted",origin="api"} ${this.sends.persistedApi}`,
      `bunim_sends_total{kind="persisted",origin="connection"} ${this.sends.persistedConnection}`,
      `bunim_sends_total{kind="no_persist",origin="api"} ${this.sends.liveApi}`,
      `bunim_sends_total{kind="no_persist",origin="connection"} ${this.sends.liveConnection}`,
    )

    metric('bunim_send_commit_seconds', 'histogram', 'Persisted sends: time from entering the group-commit writer to COMMIT.')
    let cumulative = 0
    LATENCY_BUCKETS.forEach((le, i) => {
      cumulative += this.latencyCounts[i]!
      out.push(`bunim_send_commit_seconds_bucket{le="${le}"} ${cumulative}`)
    })
    out.push(
      `bunim_send_commit_seconds_bucket{le="+Inf"} ${this.latencyCount}`,
      `bunim_send_commit_seconds_sum ${this.latencySum}`,
      `bunim_send_commit_seconds_count ${this.latencyCount}`,
    )

    const hc = s?.hubCounters ?? { publishes: 0, callbackDeliveries: 0, slowConsumers: 0 }
    metric('bunim_writer_batches_total', 'counter', 'Group-commit batches (one SQL statement each) run by this node.')
    out.push(`bunim_writer_batches_total ${this.batches.count}`)
    metric('bunim_writer_sync_batches_total', 'counter', 'Of those, batches committed synchronously in one round trip (every batch on a node alone; on a cluster node while WAL flushes are fast); the others commit asynchronously and wait for a WAL-flush statement.')
    out.push(`bunim_writer_sync_batches_total ${this.batches.synchronous}`)
    metric('bunim_writer_batch_items_total', 'counter', 'Sends carried by those batches (items / batches = mean batch size).')
    out.push(`bunim_writer_batch_items_total ${this.batches.items}`)
    metric('bunim_writer_statement_seconds_total', 'counter', 'Wall time spent in batch statements (rate ≈ 1 means the writer is never idle: the database bounds persisted sends).')
    out.push(`bunim_writer_statement_seconds_total ${this.batches.seconds}`)
    metric('bunim_writer_wal_flushes_total', 'counter', 'WAL-flush statements a cluster node\'s writer timed on Postgres (read marks of asynchronous batches, barrier requests, a probe per second while it works); 0 on a node alone, which commits synchronously.')
    out.push(`bunim_writer_wal_flushes_total ${this.walFlushes.count}`)
    metric('bunim_writer_wal_flush_seconds_total', 'counter', 'Their wall time (a cluster node commits synchronously while the fastest of the last eight is ≤ 5 ms, asynchronously once it is > 8 ms).')
    out.push(`bunim_writer_wal_flush_seconds_total ${this.walFlushes.seconds}`)
    metric('bunim_deliveries_total', 'counter', 'Live deliveries on this node: topic = one pub/sub publish (reaches every subscribed socket of the topic), callback = one delivery to one connection (SSE, poll, WKProto).')
    out.push(`bunim_deliveries_total{path="topic"} ${hc.publishes}`, `bunim_deliveries_total{path="callback"} ${hc.callbackDeliveries}`)
    metric('bunim_slow_consumers_total', 'counter', 'Connections cut off because they fell behind (send buffer past the limit).')
    out.push(`bunim_slow_consumers_total ${hc.slowConsumers}`)

    metric('bunim_webhook_backlog', 'gauge', 'Webhook events waiting in the outbox (all nodes; -1 = could not be read).')
    out.push(`bunim_webhook_backlog ${(await s?.webhookBacklog?.().catch(() => undefined)) ?? (s?.webhookBacklog ? -1 : 0)}`)
    const wc = s?.webhookCounters ?? { delivered: 0, failed: 0 }
    metric('bunim_webhook_posts_total', 'counter', 'Webhook POSTs from this node: ok = acknowledged (2xx), failed = error or non-2xx (retried later).')
    out.push(`bunim_webhook_posts_total{result="ok"} ${wc.delivered}`, `bunim_webhook_posts_total{result="failed"} ${wc.failed}`)

    const c = s?.cluster
    if (c) {
      metric('bunim_cluster_peers', 'gauge', 'Other nodes of the cluster heard from in the last few heartbeats.')
      out.push(`bunim_cluster_peers ${c.peers()}`)
      metric('bunim_cluster_nats_connected', 'gauge', '1 while this node is connected to NATS (0: events wait in a bounded outbox).')
      out.push(`bunim_cluster_nats_connected ${c.connected() ? 1 : 0}`)
      metric('bunim_cluster_events_total', 'counter', 'Core events this node published on the bus, and received from other nodes.')
      out.push(`bunim_cluster_events_total{direction="published"} ${c.counters.published}`, `bunim_cluster_events_total{direction="received"} ${c.counters.received}`)
      metric('bunim_cluster_errors_total', 'counter', 'Bus trouble: publish = a publish failed, bad_frame = an unreadable frame from another node, outbox_dropped = an event dropped while NATS was away and the outbox was full.')
      out.push(
        `bunim_cluster_errors_total{kind="publish"} ${c.counters.publishErrors}`,
        `bunim_cluster_errors_total{kind="bad_frame"} ${c.counters.badFrames}`,
        `bunim_cluster_errors_total{kind="outbox_dropped"} ${c.counters.outboxDropped}`,
      )
      metric('bunim_cluster_reorder_total', 'counter', 'Per-channel reordering of messages from several nodes: held = waited for an earlier seq, gap_skipped = a missing seq given up on after the window, late = a seq that came after its window, stall_extended = a window extended after a stalled event loop.')
      out.push(
        `bunim_cluster_reorder_total{outcome="held"} ${c.reorder.held}`,
        `bunim_cluster_reorder_total{outcome="gap_skipped"} ${c.reorder.gapsSkipped}`,
        `bunim_cluster_reorder_total{outcome="late"} ${c.reorder.late}`,
        `bunim_cluster_reorder_total{outcome="stall_extended"} ${c.reorder.stallsWaited}`,
      )
    }

    metric('process_resident_memory_bytes', 'gauge', 'Resident memory size in bytes.')
    out.push(`process_resident_memory_bytes ${process.memoryUsage.rss()}`)
    return out.join('\n') + '\n'
  }
}

const escapeLabel = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')

/**
 * GET /metrics, guarded like the server API: the manager token (`token:` or `Authorization:
 * Bearer`, which Prometheus' `authorization` setting sends) when one is configured, else loopback only.
 */
export function metricsRoutes(ctx: AppContext) {
  return new Elysia({ name: 'metrics' }).get(
    '/metrics',
    async ({ request, server, set }) => {
      try {
        authorizeManager(ctx, request, server)
      } catch {
        set.status = 401
        set.headers['content-type'] = 'text/plain; charset=utf-8'
        return 'invalid or missing manager token\n'
      }
      set.headers['content-type'] = 'text/plain; version=0.0.4; charset=utf-8'
      return ctx.metrics ? await ctx.metrics.render() : ''
    },
    {
      detail: { tags: ['ops'], summary: 'Prometheus metrics (manager token, or loopback when none is set)' },
      response: { 200: t.String({ description: 'Prometheus text format 0.0.4' }), 401: t.String() },
    },
  )
}
