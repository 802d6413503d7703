/**
 * What every module is built from: settings, the database, the logger and the lifecycle.
 * Created once by src/server.ts (or a test helper) and passed down; no module reads globals.
 */
import type { Config } from './config'
import type { Core } from './core/core'
import type { Database } from './db/client'
import type { Lifecycle } from './lifecycle'
import type { Logger } from './log'
import type { Hub } from './realtime/hub'
import type { PresenceService } from './core/presence'
import type { Metrics } from './ops/metrics'
import type { Webhooks } from './ops/webhooks'
import type { ClusterBus } from './cluster/bus'

export interface AppContext {
  config: Config
  database: Database
  log: Logger
  lifecycle: Lifecycle
  /** this node's id (IM_NODE_ID or derived) */
  nodeId: string
  /** the domain services */
  core: Core
  /** the real-time layer: live connections and fan-out (docs/architecture.md, "Real-time layer") */
  hub: Hub
  /** who is online (set by the real-time layer once it starts; /user/onlinestatus reads it) */
  presence?: PresenceService
  /** the cluster bus when NATS_URL is set (docs/architecture.md, "Cluster"); undefined = single node */
  cluster?: ClusterBus
  /** GET /metrics counters (src/ops/metrics.ts) */
  metrics?: Metrics
  /** webhook delivery when IM_WEBHOOK_URL is set (src/ops/webhooks.ts) */
  webhooks?: Webhooks
}
