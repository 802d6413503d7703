/**
 * Which of two connections attached (or logged in) first when they are on different nodes, for
 * the rules where the later one wins (quick-im replacement, WKProto's device rule).
 *
 * Times are milliseconds since the epoch on a clock that never falls behind a time heard from
 * another node (a Lamport clock over wall time): an attach that follows, on any node, the notice
 * of another one is stamped later than it whatever the two nodes' clocks say. Only attaches
 * concurrent within a notice's flight are ordered by the wall clocks; equal times go to the node
 * id, so the two nodes still agree on one winner.
 */
export class AttachClock {
  private heard = 0

  /** `node`: this node's id on the bus ('' alone) */
  constructor(readonly node: string) {}

  /** a stamp for an attach on this node */
  stamp(): AttachStamp {
    return { at: Math.max(Date.now(), this.heard + 1), node: this.node }
  }

  /** a stamp heard from another node */
  observe(at: number): void {
    if (Number.isFinite(at) && at > this.heard) this.heard = at
  }
}

/** A stamp: the time and the node that gave it. */
export interface AttachStamp {
  at: number
  node: string
}

/** true when `a` attached before `b` (never for the same stamp) */
export const attachedBefore = (a: AttachStamp, b: AttachStamp): boolean => a.at < b.at || (a.at === b.at && a.node < b.node)
