/**
 * Who is online, as the real-time layer knows it. Core and the server API only read it; the
 * real-time layer (src/realtime) provides the implementation and sets `ctx.presence`.
 */
export interface OnlineDevice {
  uid: string
  deviceFlag: number
  online: 1
}

export interface PresenceService {
  /** one entry per live connection (cluster-wide when clustered) of these uids */
  onlineStatus(uids: string[]): Promise<OnlineDevice[]>
}
