/** The order of attaches across nodes (src/realtime/attach-order.ts). */
import { describe, expect, test } from 'bun:test'
import { AttachClock, attachedBefore } from '../../src/realtime/attach-order'

describe('AttachClock', () => {
  test('follows the wall clock while it hears nothing ahead of it', () => {
    const c = new AttachClock('node-a')
    const t = c.stamp().at
    expect(Math.abs(t - Date.now())).toBeLessThan(50)
    c.observe(Date.now() - 60_000) // a node whose clock is behind changes nothing
    expect(c.stamp().at).toBeGreaterThanOrEqual(t)
    expect(c.stamp().at - Date.now()).toBeLessThan(50)
  })

  test('never stamps an attach at or before a time heard from another node (a node whose clock is ahead)', () => {
    const c = new AttachClock('node-a')
    const ahead = Date.now() + 60_000
    c.observe(ahead)
    expect(c.stamp().at).toBeGreaterThan(ahead)
    c.observe(Number.POSITIVE_INFINITY) // an older node's "no time": not a time
    c.observe(Number.NaN)
    expect(c.stamp().at).toBe(ahead + 1)
  })
})

describe('attachedBefore', () => {
  test('earlier time first; equal times go to the node id, so two nodes agree on exactly one', () => {
    expect(attachedBefore({ at: 1, node: 'b' }, { at: 2, node: 'a' })).toBe(true)
    expect(attachedBefore({ at: 2, node: 'a' }, { at: 1, node: 'b' })).toBe(false)
    const x = { at: 5, node: 'a' }
    const y = { at: 5, node: 'b' }
    expect([attachedBefore(x, y), attachedBefore(y, x)]).toEqual([true, false])
    expect(attachedBefore(x, x)).toBe(false)
  })
})
