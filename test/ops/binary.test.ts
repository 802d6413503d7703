/**
 * The single executable: built with `bun build --compile`, copied into an empty directory and run
 * with an empty environment (no node_modules, no bun on PATH). It creates its embedded database,
 * serves /health, the offline Swagger UI and the web page, exits 0 on SIGTERM and keeps its data across restarts.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BUN, spawnServer, stopWith } from '../helpers/process'

let dir: string
let binary: string

beforeAll(async () => {
  const buildDir = mkdtempSync(join(tmpdir(), 'bunim-build-'))
  const build = Bun.spawn([BUN, 'build', '--compile', '--minify', 'src/main.ts', '--outfile', join(buildDir, 'bunim')], { stdout: 'pipe', stderr: 'pipe' })
  expect(await build.exited).toBe(0)
  dir = mkdtempSync(join(tmpdir(), 'bunim-bin-'))
  binary = join(dir, 'bunim')
  copyFileSync(join(buildDir, 'bunim'), binary)
  rmSync(buildDir, { recursive: true, force: true })
}, 120_000)

afterAll(() => rmSync(dir, { recursive: true, force: true }))

const run = () => spawnServer({ cmd: [binary, 'serve'], cwd: dir, env: {}, inheritEnv: false, readyTimeoutMs: 30000 })

describe('compiled binary', () => {
  test('runs from an empty directory, serves health and offline docs, keeps data, exits 0 on SIGTERM', async () => {
    const first = await run()
    expect(existsSync(join(dir, 'data', 'pg'))).toBe(true)
    expect(await (await fetch(`${first.url}/health`)).json()).toEqual({ status: 'ok' })
    const html = await (await fetch(`${first.url}/swagger`)).text()
    expect(html).not.toMatch(/https?:\/\//)
    const bundle = await fetch(`${first.url}/swagger/assets/swagger-ui-bundle.js`)
    expect(bundle.status).toBe(200)
    // the web chat page and its script are embedded too
    expect(await (await fetch(`${first.url}/`)).text()).toContain('<title>BunIM chat</title>')
    expect(await (await fetch(`${first.url}/web/chat.js`)).text()).toContain('/notify?protoc=ws')
    const doc = (await (await fetch(`${first.url}/swagger/json`)).json()) as { openapi: string }
    expect(doc.openapi).toStartWith('3.')
    expect(first.output()).toContain('migrations applied')
    const check = Bun.spawn([binary, 'healthcheck', '--port', String(first.port)], { cwd: dir, env: {}, stdout: 'ignore', stderr: 'ignore' })
    expect(await check.exited).toBe(0)
    const post = (url: string, path: string, body: unknown) =>
      fetch(url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
    expect((await post(first.url, '/channel', { channel_id: 'g1', channel_type: 2, subscribers: ['alice', 'bob'] })).status).toBe(200)
    const sent = await post(first.url, '/message/send', { from_uid: 'alice', channel_id: 'g1', channel_type: 2, payload: btoa('kept') })
    expect(sent.status).toBe(200)
    const { message_id } = (await sent.json()) as { message_id: number }
    expect((await stopWith(first, 'SIGTERM')).code).toBe(0)

    const second = await run()
    // Same data directory: the schema is there already, nothing is re-applied, the message is kept.
    expect(second.output()).not.toContain('migrations applied')
    const sync = await post(second.url, '/channel/messagesync', { login_uid: 'bob', channel_id: 'g1', channel_type: 2, start_message_seq: 0, end_message_seq: 0, limit: 10, pull_mode: 1 })
    const { messages } = (await sync.json()) as { messages: { message_id: number; message_seq: number; payload: string }[] }
    expect(messages.map((m) => [m.message_id, m.message_seq, atob(m.payload)])).toEqual([[message_id, 1, 'kept']])
    expect((await stopWith(second, 'SIGTERM')).code).toBe(0)
  }, 90_000)
})
