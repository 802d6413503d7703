/**
 * Every documented HTTP route, fed generated input (SPEC: bad input gets a clear error; no input may
 * crash the process or leak a stack trace) — /notify too, on every transport (an event stream that
 * opens counts as an answer). Bodies are built from each route's own OpenAPI schema —
 * mostly well-typed values drawn from ids that exist, so requests reach the domain, with fields
 * swapped for wrong types, edge numbers, odd strings or dropped — plus bodies that are not JSON at
 * all. Every answer must be the route's documented envelope, never a 5xx, never a stack trace; the
 * node must still serve afterwards and its stored channels must still be consistent.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import fc from 'fast-check'
import { sql } from 'drizzle-orm'
import { rowsOf } from '../../src/db/migrate'
import { fuzzSeed } from '../helpers/fuzz-seed'
import { startTestServer, type TestServer } from '../helpers/server'

type Schema = { type?: string; pattern?: string; properties?: Record<string, Schema>; items?: Schema; required?: string[]; minimum?: number; maximum?: number; anyOf?: Schema[] }
interface Route {
  method: 'get' | 'post'
  path: string
  body?: Schema
  query: string[]
  quickIm: boolean
}

/** WKProto's socket upgrade: covered by the protocol's own generated tests */
const SKIP = new Set(['/ws'])
const RUNS_PER_ROUTE = 50
/** see fuzzSeed; FUZZ_ROUTE=/path prints that route's answers, FUZZ_VERBOSE=1 the successes per route */
const SEED = fuzzSeed()

let server: TestServer
let routes: Route[] = []
let clientToken = ''
let conversationId = ''
const UIDS = ['fa', 'fb', 'fc', '']
const CHANNELS = ['fg', 'fa', 'fb', 'nochannel']

const post = (path: string, body: unknown) => fetch(server.url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })

/** what the generated calls work on, put back before each route (an earlier route may have removed it) */
async function restoreFixture() {
  await post('/channel', { channel_id: 'fg', channel_type: 2, subscribers: ['fa', 'fb'] })
  await post('/channel/whitelist_set', { channel_id: 'fg', channel_type: 2, uids: [] })
  await post('/channel/blacklist_set', { channel_id: 'fg', channel_type: 2, uids: [] })
  await post('/user/token', { uid: 'fa', token: 'tk', device_flag: 1, device_level: 1 })
  if (conversationId) {
    await post('/inner/set_archive_conversations', { conversation_ids: [conversationId], is_archive: false })
    await post('/inner/join_conversation', { conversation_id: conversationId, sessions: ['fa', 'fb'] })
  }
}

beforeAll(async () => {
  server = await startTestServer()
  await restoreFixture()
  await post('/message/send', { from_uid: 'fa', channel_id: 'fg', channel_type: 2, payload: Buffer.from('hello').toString('base64') })
  conversationId = ((await (await post('/inner/create_conversation', { conversation_type: 0, sessions: ['fa', 'fb'] })).json()) as any).data.ConversationId
  clientToken = ((await (await post('/inner/get_token', { session: 'fa', platform: 1 })).json()) as any).data
  const doc = (await (await fetch(server.url + '/swagger/json')).json()) as any
  for (const [path, item] of Object.entries<any>(doc.paths)) {
    if (SKIP.has(path)) continue
    for (const [method, op] of Object.entries<any>(item)) {
      routes.push({
        method: method as Route['method'],
        path,
        body: op.requestBody?.content?.['application/json']?.schema,
        query: (op.parameters ?? []).filter((p: any) => p.in === 'query').map((p: any) => p.name),
        quickIm: (op.tags ?? []).some((t: string) => /quick/i.test(t)) || /^\/(inner\/|send_msg|create_conv|join_conv|leave_conv|check_joined|get_)/.test(path),
      })
    }
  }
}, 60_000)
afterAll(() => server?.stop(), 30_000)

/** values that break naive code: wrong types, edges of every integer width, odd strings */
const oddValue = fc.oneof(
  fc.constantFrom<unknown>(null, true, false, 0, -1, 1.5, 2 ** 31, 2 ** 53, -(2 ** 63), 1e308, -1e308, '', ' ', '\u0000', '0', '-1', '1e999', 'a'.repeat(5000), '🙂', '../../etc', 'x:2:1|', [], {}, [null], { a: 1 }),
  fc.jsonValue({ maxDepth: 3 }),
)

const ids = (pool: string[]) => fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...pool) }, { weight: 1, arbitrary: fc.string({ maxLength: 12 }) })

/** a well-typed value for one schema node: known ids, in-range numbers, valid base64 */
function typedValue(schema: Schema | undefined, name = '', depth = 0): fc.Arbitrary<unknown> {
  if (!schema || depth > 4) return oddValue
  if (schema.anyOf?.length) return fc.oneof(...schema.anyOf.map((s) => typedValue(s, name, depth + 1)))
  switch (schema.type) {
    case 'object': {
      const props = Object.entries(schema.properties ?? {})
      const fields = Object.fromEntries(props.map(([k, s]) => [k, typedValue(s, k, depth + 1)]))
      // required fields are there, optional ones sometimes
      return fc.record(fields, { requiredKeys: props.map(([k]) => k).filter((k) => schema.required?.includes(k)) })
    }
    case 'array':
      return fc.array(typedValue(schema.items, name, depth + 1), { maxLength: 4 })
    case 'string':
      if (/conversation_id|ConversationId/i.test(name)) return fc.constant(conversationId)
      if (/payload|content/.test(name)) return fc.base64String({ maxLength: 40 })
      if (/channel/.test(name)) return fc.constantFrom(...CHANNELS)
      if (/uid|session|subscriber|from/.test(name)) return fc.constantFrom(...UIDS.filter((u) => u || schema.pattern?.includes('*')))
      return fc.oneof({ weight: 3, arbitrary: fc.constant('') }, { weight: 1, arbitrary: fc.stringMatching(/^[a-z0-9]{1,12}$/) })
    case 'number':
    case 'integer': {
      if (name === 'channel_type') return fc.constantFrom(1, 2)
      const min = schema.minimum ?? 0
      return fc.integer({ min, max: Math.min(schema.maximum ?? 100, min + 100) })
    }
    case 'boolean':
      return fc.boolean()
    default:
      return oddValue
  }
}

/** the same with one thing wrong: a field of the wrong kind or out of range, a required field dropped, an unknown one added */
function mutatedValue(schema: Schema | undefined): fc.Arbitrary<unknown> {
  const keys = Object.keys(schema?.properties ?? {})
  if (schema?.type !== 'object' || !keys.length) return oddValue
  return fc.tuple(typedValue(schema), fc.constantFrom(...keys), fc.oneof(oddValue, fc.constant(undefined)), fc.string({ maxLength: 8 })).map(([body, key, odd, extra]) => {
    const out: Record<string, unknown> = { ...(body as object) }
    if (odd === undefined) delete out[key]
    else out[key] = odd
    if (extra) out[extra] = odd
    return out
  })
}

/** a whole request body: well-typed, one field wrong, or text that is not the JSON asked for */
const bodyFor = (route: Route) =>
  fc.oneof(
    { weight: 5, arbitrary: typedValue(route.body).map((v) => JSON.stringify(v) ?? 'null') },
    { weight: 5, arbitrary: mutatedValue(route.body).map((v) => JSON.stringify(v) ?? 'null') },
    { weight: 1, arbitrary: fc.constantFrom('', '{', '{"a":', '[]', 'null', '"text"', '{"channel_id":"fg","channel_type":2,"payload":"eA=="', '\u0000', '{}'.repeat(100)) },
    { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
  )

/** /notify: every transport, valid and broken tokens, cursors and timeouts (a poll waits at most 1 s) */
const notifyQuery = () =>
  fc
    .record(
      {
        protoc: fc.oneof({ weight: 4, arbitrary: fc.constantFrom('poll', 'sse', 'ws') }, { weight: 1, arbitrary: fc.oneof(fc.constantFrom('', 'POLL'), fc.string({ maxLength: 6 })) }),
        token: fc.oneof({ weight: 3, arbitrary: fc.constant(clientToken) }, { weight: 1, arbitrary: fc.constantFrom('bad', '', clientToken + 'x') }),
        timeout: fc.oneof({ weight: 4, arbitrary: fc.constant('0') }, { weight: 1, arbitrary: fc.constantFrom('1', '-1', '0.2', 'abc', '', '1e-9', 'NaN', '99999999999999999999') }),
        cursor: fc.oneof(fc.constantFrom('0', '', '22222-2222-2222-222', 'zzzzz-zzzz-zzzz-zzz', '18446744073709551616'), fc.string({ maxLength: 20 })),
        format: fc.oneof({ weight: 4, arbitrary: fc.constantFrom('json', 'msgpack') }, { weight: 1, arbitrary: fc.constant('x') }),
      },
      { requiredKeys: ['protoc', 'token', 'timeout'] }, // without a timeout a poll waits 30 s
    )
    .map((q) => Object.entries(q) as [string, string][])

const queryFor = (route: Route) =>
  route.path === '/notify' ? notifyQuery() : fc.array(fc.tuple(fc.constantFrom(...(route.query.length ? route.query : ['x'])), fc.oneof(ids([...UIDS, ...CHANNELS]), fc.constantFrom('2', '1', '-1', '99999999999999999999', '%00', ''))), { maxLength: 3 })

async function call(route: Route, body: string | undefined, query: [string, string][], auth: string | undefined, contentType: string) {
  const qs = query.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&')
  const res = await fetch(`${server.url}${route.path}${qs ? '?' + qs : ''}`, {
    method: route.method.toUpperCase(),
    headers: { 'content-type': contentType, ...(auth ? { authorization: auth } : {}) },
    body: route.method === 'post' ? body : undefined,
  })
  // an event stream that opened is an answer; it is not read to its (never) end
  if (res.status === 200 && res.headers.get('content-type')?.startsWith('text/event-stream')) {
    await res.body?.cancel()
    return { status: res.status, text: '' }
  }
  return { status: res.status, text: await res.text() }
}

/** the route's documented envelope for this answer, or what is wrong with it */
function envelopeProblem(route: Route, status: number, text: string): string | undefined {
  if (status >= 500) return `HTTP ${status}`
  if (/\n\s+at |node_modules|\.ts:\d+|\/src\//.test(text)) return 'a stack trace or source path in the body'
  if (route.path === '/metrics') return status === 200 ? undefined : `HTTP ${status}`
  // /notify: an event stream that opened, or a poll that found nothing (204), carries no envelope
  if (route.path === '/notify' && text === '' && (status === 200 || status === 204)) return undefined
  let body: any
  try {
    body = text === '' ? undefined : JSON.parse(text)
  } catch {
    return 'a body that is not JSON'
  }
  if (route.quickIm) {
    if (status !== 200) return `quick-im answered HTTP ${status}`
    if (typeof body?.code !== 'number') return 'quick-im envelope without a numeric code'
    if (body.code !== 0 && typeof body.error !== 'string') return 'quick-im error without an error text'
    return undefined
  }
  if (status === 200) return undefined
  if (![400, 401, 403, 404, 413].includes(status)) return `unexpected HTTP ${status}`
  if (body?.status !== status || typeof body?.msg !== 'string' || body.msg === '') return 'WuKongIM error without {status, msg}'
  return undefined
}

describe('generated input on every documented route', () => {
  test(
    `${RUNS_PER_ROUTE} requests per route: the documented envelope, never a 5xx or a stack trace`,
    async () => {
      expect(routes.length).toBeGreaterThan(40)
      const problems: string[] = []
      const succeeded = new Map<string, number>()
      for (const route of routes) {
        await restoreFixture()
        const auth = fc.oneof({ weight: 4, arbitrary: fc.constant<string | undefined>(`Bearer ${clientToken}`) }, { weight: 1, arbitrary: fc.constantFrom<string | undefined>(undefined, 'Bearer nonsense', 'Basic x') })
        const contentType = fc.oneof({ weight: 6, arbitrary: fc.constant('application/json') }, { weight: 1, arbitrary: fc.constantFrom('text/plain', 'application/x-www-form-urlencoded', '') })
        await fc.assert(
          fc.asyncProperty(bodyFor(route), queryFor(route), auth, contentType, async (body, query, a, ct) => {
            const r = await call(route, body, query, a, ct)
            const problem = envelopeProblem(route, r.status, r.text)
            if (process.env.FUZZ_ROUTE === route.path) console.log(r.status, r.text.slice(0, 120))
            if (r.status === 200 && (!route.quickIm || /^\{"code":0\b/.test(r.text))) succeeded.set(route.path, (succeeded.get(route.path) ?? 0) + 1)
            if (problem) problems.push(`seed ${SEED}: ${route.method.toUpperCase()} ${route.path} ${JSON.stringify(body).slice(0, 300)} → ${problem}: ${r.text.slice(0, 300)}`)
            return problem === undefined
          }),
          { numRuns: RUNS_PER_ROUTE, seed: SEED, endOnFailure: true },
        ).catch(() => {}) // every failing route is collected below, with its shrunk input
      }
      expect(problems).toEqual([])
      // the generator reaches the domain, not only the validators
      if (process.env.FUZZ_VERBOSE) console.log(Object.fromEntries(succeeded), routes.filter((r) => !succeeded.has(r.path)).map((r) => r.path))
      expect(succeeded.size).toBeGreaterThan(routes.length * 0.6)
    },
    240_000,
  )

  test('afterwards the node serves, and every channel history is gapless up to its last_msg_seq', async () => {
    expect((await fetch(server.url + '/health')).status).toBe(200)
    const gaps = rowsOf<{ channel_id: string; last_msg_seq: number; n: number; max: number | null }>(
      await server.ctx.database.db.execute(sql`
        select c.channel_id, c.last_msg_seq, count(m.message_id)::int as n, max(m.message_seq) as max
        from channels c left join messages m on m.channel_id = c.channel_id and m.channel_type = c.channel_type and m.message_seq > 0
        group by c.channel_id, c.channel_type, c.last_msg_seq
        having count(m.message_id) <> c.last_msg_seq or coalesce(max(m.message_seq), 0) <> c.last_msg_seq`),
    )
    expect(gaps).toEqual([])
  })
})
