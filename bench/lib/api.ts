/**
 * The few BunIM calls the scenarios need for set-up, plus the "not available yet" detection:
 * an endpoint that answers 404 "route not found" does not exist (yet) in this build.
 */
export class NotAvailable extends Error {}

async function post(base: string, path: string, body: unknown): Promise<{ status: number; json: any; text: string }> {
  const r = await fetch(base + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(15_000) })
  const text = await r.text()
  let json: any
  try {
    json = JSON.parse(text)
  } catch {}
  if (r.status === 404 && (json?.msg === 'route not found' || text === '' || text === 'NOT_FOUND')) throw new NotAvailable(`${path} not available yet`)
  return { status: r.status, json, text }
}

/** Runs fn over items with at most `limit` in flight. */
export async function pool<T>(items: T[], limit: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++
        await fn(items[i]!, i)
      }
    }),
  )
}

/** WuKongIM POST /channel: a group channel with these subscribers. */
export async function createGroup(base: string, channelId: string, subscribers: string[]): Promise<void> {
  const r = await post(base, '/channel', { channel_id: channelId, channel_type: 2, subscribers })
  if (r.status !== 200) throw new Error(`POST /channel ${channelId}: HTTP ${r.status} ${r.text.slice(0, 200)}`)
}

/** WuKongIM POST /message/send; returns the answer. */
export async function sendMessage(base: string, body: Record<string, unknown>): Promise<{ message_id: number; message_seq: number }> {
  const r = await post(base, '/message/send', body)
  if (r.status !== 200) throw new Error(`POST /message/send: HTTP ${r.status} ${r.text.slice(0, 200)}`)
  return r.json
}

/** quick-im POST /inner/get_token → the token string. */
export async function getToken(base: string, session: string, platform = 1): Promise<string> {
  const r = await post(base, '/inner/get_token', { session, platform })
  if (r.json?.code !== 0 || typeof r.json?.data !== 'string') {
    if (r.status === 404) throw new NotAvailable('/inner/get_token not available yet')
    throw new Error(`POST /inner/get_token: HTTP ${r.status} ${r.text.slice(0, 200)}`)
  }
  return r.json.data
}

export async function postJson(base: string, path: string, body: unknown) {
  return post(base, path, body)
}

export const b64 = (s: string) => Buffer.from(s).toString('base64')
