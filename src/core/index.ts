/**
 * Assembles the domain services over one database. The real-time layer listens on `events`.
 */
import type { Database } from '../db/client'
import type { Logger } from '../log'
import type { Core } from './core'
import { CoreEvents } from './events'

export interface CoreOptions {
  database: Database
  log: Logger
  maxPayloadBytes: number
}

export async function createCore(opts: CoreOptions): Promise<Core> {
  const events = new CoreEvents()
  void opts
  // Services are assembled here as they are built (issue: WuKongIM server API).
  return { events } as Core
}
