/**
 * Starts a whole BunIM node from a Config: database, migrations, app, listeners. Returns a handle
 * whose stop() shuts down gracefully (stop accepting, finish in-flight work, flush, close the db).
 * Used by main.ts and by the test helpers, so tests run the same start-up as production.
 */
import { hostname } from 'node:os'
import { buildApp } from './app'
import type { Config } from './config'
import type { AppContext } from './context'
import { createCore } from './core'
import { openDatabase } from './db/client'
import { migrate } from './db/migrate'
import { Lifecycle } from './lifecycle'
import { Hub } from './realtime/hub'
import { ClusterBus } from './cluster/bus'
import { startWkprotoTcp } from './protocol/wkproto/tcp'
import { createLogger, type Logger } from './log'
import { Metrics } from './ops/metrics'
import { Webhooks } from './ops/webhooks'
import { createWebhookOutbox } from './core/webhook-outbox'

export interface RunningServer {
  ctx: AppContext
  /** the HTTP port actually bound (useful with port 0) */
  port: number
  url: string
  stop(): Promise<void>
}

export async function startServer(config: Config, log: Logger = createLogger(config.logLevel)): Promise<RunningServer> {
  const lifecycle = new Lifecycle()
  const database = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir })
  lifecycle.onStop('database', () => database.close())
  try {
    const applied = await migrate(database)
    if (applied.length) log.info('migrations applied', { applied })
    const metrics = new Metrics()
    const core = await createCore({
      database,
      log,
      maxPayloadBytes: config.maxPayloadBytes,
      writeObserver: metrics,
      webhookOutbox: !!config.webhookUrl,
      clustered: !!config.natsUrl,
    })
    const nodeId = config.nodeId ?? `${hostname()}-${process.pid}`
    // Cluster (NATS_URL): the hub hears local and remote events through the bus, in seq order per channel.
    // Its stop is registered before the writer's, so sends flushed at shutdown still reach other nodes.
    const cluster = config.natsUrl
      ? await ClusterBus.start({ natsUrl: config.natsUrl, clusterName: config.clusterName, nodeId, core, log })
      : undefined
    if (cluster) lifecycle.onStop('cluster bus', () => cluster.stop())
    // Webhooks stop after the writer's flush (their last events queued) and before the database closes.
    let webhooks: Webhooks | undefined
    lifecycle.onStop('webhooks', () => webhooks?.stop())
    // Flush accepted sends before the database closes (stop steps run in reverse order).
    lifecycle.onStop('message writer', () => core.messages.flush())
    const hub = new Hub({
      core: cluster ? { events: cluster.events, channels: core.channels } : core,
      log,
      announceReplacement: cluster && ((r) => cluster.announceReplacement(r)),
      clock: cluster?.clock,
    })
    cluster?.setLocalPresence(hub)
    cluster?.onReplacement((r) => hub.replacedElsewhere(r.key, r.at, r.origin))
    const ctx: AppContext = {
      core,
      config,
      database,
      log,
      lifecycle,
      nodeId,
      hub,
      presence: cluster ?? hub,
      cluster,
    }
    const outbox = createWebhookOutbox(database.db)
    if (config.webhookUrl) {
      webhooks = ctx.webhooks = new Webhooks({ url: config.webhookUrl, core, hub, presence: ctx.presence ?? hub, outbox, log })
      webhooks.start()
    }
    ctx.metrics = metrics
    metrics.bind({
      connections: () => hub.stats(),
      hubCounters: hub.counters,
      webhookBacklog: () => outbox.backlog(),
      webhookCounters: webhooks?.counters,
      cluster: cluster && { peers: () => cluster.livePeers().length, connected: () => cluster.connected, counters: cluster.counters, reorder: cluster.sequencer.counters },
    })
    const app = buildApp(ctx)
    app.listen({
      port: config.port,
      hostname: config.host,
      reusePort: config.reusePort,
      // The APIs bound what they read themselves (src/api/body-checks.ts), answering in their own
      // error shapes; Bun's limit would answer an announced large body with an empty 413 first.
      maxRequestBodySize: Number.MAX_SAFE_INTEGER,
      // Elysia's WebSocket handler object also defines drain, ping and pong (forwarding to ws.data);
      // no connection of ours uses them, and with a handler Bun calls into JavaScript for every
      // such event of every socket (drain fires per socket, over and over, under fan-out load).
      websocket: { drain: undefined, ping: undefined, pong: undefined } as never,
    })
    const server = app.server!
    // Stop accepting, let in-flight requests finish (runs before the database closes).
    lifecycle.onStop('http', () => server.stop(false))
    // Publishing goes through the root server; live connections end before HTTP stops waiting on them.
    ctx.hub.bindServer(server)
    lifecycle.onStop('real-time connections', () => ctx.hub.stop())
    // WKProto over TCP (IM_TCP_PORT, 0 = off); stops first: no new connections, live ones closed.
    const tcp = startWkprotoTcp(ctx)
    if (tcp) {
      lifecycle.onStop('wkproto tcp', () => tcp.stop(true))
      log.info('wkproto tcp listening', { port: tcp.port })
    }
    const port = server.port!
    const url = `http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${port}`
    log.info('listening', { url, database: database.kind, nodeId: ctx.nodeId })
    return {
      ctx,
      port,
      url,
      stop: () => lifecycle.stop((name, err) => log.error('shutdown step failed', { step: name, error: String(err) })),
    }
  } catch (err) {
    await lifecycle.stop()
    throw err
  }
}
