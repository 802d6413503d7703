import { describe, expect, test } from 'bun:test'
import { ConfigError, loadConfig } from '../src/config'

describe('settings', () => {
  test('defaults follow the spec', () => {
    const c = loadConfig({})
    expect(c.port).toBe(5001)
    expect(c.host).toBe('0.0.0.0')
    expect(c.dataDir).toBe('./data')
    expect(c.tcpPort).toBe(5100)
    expect(c.databaseUrl).toBeUndefined()
  })
  test('env values are parsed and flags win over env', () => {
    const c = loadConfig({ PORT: '6000', IM_TCP_PORT: '0' }, ['--port', '7000', '--data-dir=/tmp/x'])
    expect(c.port).toBe(7000)
    expect(c.tcpPort).toBe(0)
    expect(c.dataDir).toBe('/tmp/x')
  })
  test('IM_REUSE_PORT is off by default and takes 1/0/true/false only', () => {
    expect(loadConfig({}).reusePort).toBe(false)
    expect(loadConfig({ IM_REUSE_PORT: '1' }).reusePort).toBe(true)
    expect(loadConfig({ IM_REUSE_PORT: 'false' }).reusePort).toBe(false)
    expect(loadConfig({}, ['--reuse-port', 'true']).reusePort).toBe(true)
    expect(() => loadConfig({ IM_REUSE_PORT: 'yes' })).toThrow(/IM_REUSE_PORT/)
  })
  test('a bad value names the setting', () => {
    expect(() => loadConfig({ PORT: 'abc' })).toThrow(ConfigError)
    expect(() => loadConfig({ PORT: 'abc' })).toThrow(/PORT/)
    expect(() => loadConfig({ DATABASE_URL: 'mysql://x' })).toThrow(/DATABASE_URL/)
    expect(() => loadConfig({}, ['--nope', '1'])).toThrow(/--nope/)
  })
  test('the CLI exits 2 with one line naming PORT', async () => {
    const proc = Bun.spawn([process.execPath, 'src/main.ts', 'serve'], { env: { ...process.env, PORT: 'abc' }, stderr: 'pipe', stdout: 'pipe' })
    const code = await proc.exited
    const err = await new Response(proc.stderr).text()
    expect(code).toBe(2)
    expect(err.trim().split('\n')).toHaveLength(1)
    expect(err).toContain('PORT')
  })
})
