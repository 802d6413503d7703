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
import { GroupCommitWriter } from './writer'

export interface CoreOptions {
  database: Database
  log: Logger
  maxPayloadBytes: number
}

export async function createCore(opts: CoreOptions): Promise<Core> {
  const { db } = opts.database
  const events = new CoreEvents()
  const users = createUserService(db, events)
  const channels = createChannelService(db, events, users)
  const writer = new GroupCommitWriter(db, rawQuery(opts.database), events, opts.log)
  const sendDeps = { channels, maxPayloadBytes: opts.maxPayloadBytes }
  const streams = createStreamService(db, events, writer, sendDeps)
  const messages = createMessageService(db, writer, { ...sendDeps, users, streams })
  return {
    events,
    users,
    channels,
    messages,
    conversations: createConversationService(db, channels, streams),
    commands: createCommandQueueService(db),
    streams,
  }
}
