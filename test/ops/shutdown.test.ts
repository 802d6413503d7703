import { afterAll, describe, expect, test } from 'bun:test'
import { freshStorage } from '../helpers/server'
import { BUN, spawnServer, stopWith } from '../helpers/process'

const storages: { drop: () => Promise<void> }[] = []
afterAll(async () => {
  for (const s of storages) await s.drop()
})

async function start() {
  const storage = await freshStorage()
  storages.push(storage)
  const env: Record<string, string> = { IM_DATA_DIR: storage.overrides.dataDir! }
  if (storage.overrides.databaseUrl) env.DATABASE_URL = storage.overrides.databaseUrl
  return { env, child: await spawnServer({ cmd: [BUN, 'src/main.ts', 'serve'], env }) }
}

describe('graceful shutdown', () => {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    test(`${signal} exits 0 within 5 s and closes the database cleanly`, async () => {
      const { env, child } = await start()
      const { code, ms } = await stopWith(child, signal)
      expect(code).toBe(0)
      expect(ms).toBeLessThan(5000)
      expect(child.output()).toContain('"stopped"')
      // The same data opens again without recovery problems.
      const again = await spawnServer({ cmd: [BUN, 'src/main.ts', 'serve'], env })
      expect(again.output()).not.toContain('migrations applied')
      expect((await stopWith(again, 'SIGTERM')).code).toBe(0)
    })
  }

  test('in-flight requests finish before the process exits', async () => {
    const { child } = await start()
    // Several requests in flight at the moment the signal arrives all get answers.
    const inFlight = Array.from({ length: 20 }, () => fetch(`${child.url}/health`).then((r) => r.status))
    child.proc.kill('SIGTERM')
    const statuses = await Promise.allSettled(inFlight)
    const answered = statuses.filter((s) => s.status === 'fulfilled').map((s) => (s as PromiseFulfilledResult<number>).value)
    for (const status of answered) expect([200, 503]).toContain(status)
    expect(await child.proc.exited).toBe(0)
  })
})
