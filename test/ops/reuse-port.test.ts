/**
 * IM_REUSE_PORT: several nodes on one host share the HTTP and WKProto TCP ports (the kernel spreads
 * new connections over them); without it a second node on a taken port fails to start.
 */
import { afterAll, expect, test } from 'bun:test'
import { connect } from 'node:net'
import { startTestServer, type TestServer } from '../helpers/server'
import { freePort } from '../protocol/helpers/wk-client'

const started: TestServer[] = []
afterAll(async () => {
  for (const s of started) await s.stop()
}, 30_000)

const tcpOpens = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = connect(port, '127.0.0.1', () => {
      s.destroy()
      resolve(true)
    })
    s.on('error', () => resolve(false))
  })

test('two nodes with IM_REUSE_PORT serve one port; when one stops the other still answers', async () => {
  const port = freePort()
  const tcpPort = freePort()
  const a = await startTestServer({ port, tcpPort, reusePort: true })
  started.push(a)
  const b = await startTestServer({ port, tcpPort, reusePort: true })
  started.push(b)
  expect(a.port).toBe(port)
  expect(b.port).toBe(port)
  for (let i = 0; i < 20; i++) expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200)
  expect(await tcpOpens(tcpPort)).toBe(true)
  await a.stop()
  started.splice(started.indexOf(a), 1)
  for (let i = 0; i < 20; i++) expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200)
  expect(await tcpOpens(tcpPort)).toBe(true)
})

test('without IM_REUSE_PORT a second node on a taken port does not start', async () => {
  const port = freePort()
  const a = await startTestServer({ port, tcpPort: 0 })
  started.push(a)
  await expect(startTestServer({ port, tcpPort: 0 })).rejects.toThrow()
})
