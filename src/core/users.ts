/**
 * Users and their device tokens (POST /user/token, /user/device_quit).
 * A uid exists once it was given a token or added to a channel; ensureUsers() records it.
 */
import { and, eq, sql } from 'drizzle-orm'
import type { Db } from '../db/client'
import { userTokens, users } from '../db/schema'
import type { DeviceToken, UserService } from './core'
import { invalid } from './errors'
import type { CoreEvents } from './events'
import { isValidUid } from './channel-id'
import { rows } from './sql'

export function createUserService(db: Db, events: CoreEvents): UserService {
  /** uids known to exist: saves a round trip on every channel add / send */
  const known = new Set<string>()

  async function ensureUsers(uids: string[]): Promise<void> {
    const missing = [...new Set(uids)].filter((u) => !known.has(u))
    if (!missing.length) return
    for (const u of missing) if (!isValidUid(u)) throw invalid(`invalid uid "${u}"`)
    await db.insert(users).values(missing.map((uid) => ({ uid }))).onConflictDoNothing()
    if (known.size > 200_000) known.clear()
    for (const u of missing) known.add(u)
  }

  return {
    ensureUsers,
    async setToken(t: DeviceToken) {
      await ensureUsers([t.uid])
      await db
        .insert(userTokens)
        .values({ uid: t.uid, deviceFlag: t.deviceFlag, token: t.token, deviceLevel: t.deviceLevel })
        .onConflictDoUpdate({
          target: [userTokens.uid, userTokens.deviceFlag],
          set: { token: t.token, deviceLevel: t.deviceLevel, updatedAt: sql`(extract(epoch from now()) * 1000)::bigint` },
        })
      // A master login on a device flag disconnects that flag's other devices.
      if (t.deviceLevel === 1) events.emit({ type: 'kick_devices', uid: t.uid, deviceFlag: t.deviceFlag, reason: 'master_login' })
    },
    async getToken(uid, deviceFlag) {
      const [row] = await db
        .select()
        .from(userTokens)
        .where(and(eq(userTokens.uid, uid), eq(userTokens.deviceFlag, deviceFlag)))
      return row ? { uid: row.uid, deviceFlag: row.deviceFlag, token: row.token, deviceLevel: row.deviceLevel } : undefined
    },
    async deviceQuit(uid, deviceFlag) {
      if (deviceFlag === -1) await db.delete(userTokens).where(eq(userTokens.uid, uid))
      else await db.delete(userTokens).where(and(eq(userTokens.uid, uid), eq(userTokens.deviceFlag, deviceFlag)))
      events.emit({ type: 'kick_devices', uid, deviceFlag, reason: 'device_quit' })
    },
    async exists(uid) {
      if (known.has(uid)) return true
      const found = await rows(db, sql`select 1 from users where uid = ${uid}`)
      if (found.length) known.add(uid)
      return found.length > 0
    },
  }
}
