/**
 * Assembles the domain services over one database. The real-time layer listens on `events`.
 */
import type { Database } from '../db/client'
import type { Logger } from '../log'
import { createChannelService } from './channels'
import { createCommandQueueService } from './commands'
import { createConversationService } from './conversations'
import type { Core } from './core'
import { CoreEvents } from './events'
import { createMessageService } from './messages'
import { rawQuery } from './raw-query'
import { createStreamService } from './streams'
import { createUserService } from './users'
import type { FlushGauge } from './flush-gauge'
import { GroupCommitWriter, type WriteObserver } from './writer'

export interface CoreOptions {
  database: Database
  log: Logger
  maxPayloadBytes: number
  /** told of every acknowledged send (metrics) */
  writeObserver?: WriteObserver
  /** webhooks on: message batches queue `msg.notify` rows in their own transaction */
  webhookOutbox?: boolean
  /** other nodes write to this database (a cluster): see WriterOptions.clustered */
  clustered?: boolean
  /** in a cluster, the writer's judge of WAL-flush speed (tests pin the commit mode) */
  flushGauge?: FlushGauge
}

export async function createCore(opts: CoreOptions): Promise<Core> {
  const { db } = opts.database
  const events = new CoreEvents()
  const users = createUserService(db, events)
  const channels = createChannelService(db, events, users)
  const query = rawQuery(opts.database)
  const writer = new GroupCommitWriter(db, query, events, opts.log, {
    observer: opts.writeObserver,
    webhookOutbox: opts.webhookOutbox,
    clustered: opts.clustered,
    flushGauge: opts.flushGauge,
  })
  const sendDeps = { channels, maxPayloadBytes: opts.maxPayloadBytes }
  const streams = createStreamService(db, events, writer, sendDeps)
  const messages = createMessageService(db, writer, { ...sendDeps, users, streams })
  return {
    events,
    users,
    channels,
    messages,
    conversations: createConversationService(db, query, channels, streams),
    commands: createCommandQueueService(db),
    streams,
  }
}
