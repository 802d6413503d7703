/** The writer's judge of WAL-flush speed: the fastest recent flush, with hysteresis, and its probe cadence. */
import { expect, test } from 'bun:test'
import { FAST_FLUSH_MS, FlushGauge, PROBE_EVERY_MS, SLOW_FLUSH_MS } from '../../src/core/flush-gauge'

test('unmeasured: not fast; fast once the fastest recent flush is short', () => {
  const g = new FlushGauge()
  expect(g.fast).toBe(false)
  expect(g.estimateMs).toBeUndefined()
  g.record(FAST_FLUSH_MS + 3, 0)
  expect(g.fast).toBe(false)
  g.record(FAST_FLUSH_MS, 1)
  expect(g.fast).toBe(true)
  expect(g.estimateMs).toBe(FAST_FLUSH_MS)
})

test('flushes slowed by load do not count while a fast one is recent; a slow disk does', () => {
  const g = new FlushGauge()
  g.record(0.3, 0)
  for (let i = 0; i < 7; i++) g.record(40, i + 1)
  // the 0.3 ms flush is still among the last eight
  expect(g.fast).toBe(true)
  g.record(40, 9)
  // every recent flush is slow: the disk is
  expect(g.fast).toBe(false)
  expect(g.estimateMs).toBe(40)
})

test('hysteresis: between the two limits the mode does not change', () => {
  const between = (FAST_FLUSH_MS + SLOW_FLUSH_MS) / 2
  const fast = new FlushGauge()
  fast.record(1, 0)
  for (let i = 0; i < 8; i++) fast.record(between, i + 1)
  expect(fast.fast).toBe(true)
  const slow = new FlushGauge()
  for (let i = 0; i < 8; i++) slow.record(between, i)
  expect(slow.fast).toBe(false)
})

test('probes: one at a time, only once no flush was measured for a while', async () => {
  const g = new FlushGauge()
  let probes = 0
  let finish = () => {}
  const flush = () => {
    probes++
    return new Promise<void>((r) => (finish = r))
  }
  g.probeIfStale(flush, 0)
  g.probeIfStale(flush, PROBE_EVERY_MS * 5)
  expect(probes).toBe(1)
  finish()
  await Bun.sleep(0)
  g.record(1, 10)
  g.probeIfStale(flush, 10 + PROBE_EVERY_MS - 1)
  expect(probes).toBe(1)
  g.probeIfStale(flush, 10 + PROBE_EVERY_MS)
  expect(probes).toBe(2)
  // a failed probe is not retried before the interval is over
  const failing = () => {
    probes++
    return Promise.reject(new Error('down'))
  }
  finish()
  await Bun.sleep(0)
  g.probeIfStale(failing, 20 + 2 * PROBE_EVERY_MS)
  await Bun.sleep(0)
  g.probeIfStale(failing, 20 + 2 * PROBE_EVERY_MS + 1)
  expect(probes).toBe(3)
})
