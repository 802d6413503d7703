/** /user/token, /user/device_quit, /user/onlinestatus, /route */
import type { AppContext } from '../../context'
import { OK, doc, wukongimBase } from './base'
import { DeviceQuitBody, OnlineStatusBody, OnlineStatusOut, RouteOut, TokenBody, Uid } from './models'
import { t } from 'elysia'

export function userRoutes(ctx: AppContext) {
  const { users } = ctx.core
  return wukongimBase(ctx)
    .post(
      '/user/token',
      async ({ body }) => {
        await users.setToken({ uid: body.uid, token: body.token, deviceFlag: body.device_flag ?? 0, deviceLevel: body.device_level ?? 1 })
        return OK
      },
      { parse: 'json', body: TokenBody, detail: doc('Set the token a client presents to connect (a master login kicks that flag’s other devices)') },
    )
    .post(
      '/user/device_quit',
      async ({ body }) => {
        await users.deviceQuit(body.uid, body.device_flag)
        return OK
      },
      { parse: 'json', body: DeviceQuitBody, detail: doc('Revoke a device flag’s token (-1 = all) and disconnect it') },
    )
    .post(
      '/user/onlinestatus',
      async ({ body }) => {
        const online = (await ctx.presence?.onlineStatus(body)) ?? []
        return online.map((d) => ({ uid: d.uid, device_flag: d.deviceFlag, online: d.online }))
      },
      { parse: 'json', body: OnlineStatusBody, detail: doc('Live connections of these uids: [{uid, device_flag, online}]', OnlineStatusOut) },
    )
    .get(
      '/route',
      ({ request }) => {
        // The address the caller reached us on, unless public addresses are configured.
        const host = new URL(request.url).host
        const hostname = new URL(request.url).hostname
        const tcp = ctx.config.publicTcpAddr ?? (ctx.config.tcpPort ? `${hostname}:${ctx.config.tcpPort}` : '')
        const ws = ctx.config.publicWsAddr ?? `ws://${host}/ws`
        return { tcp_addr: tcp, ws_addr: ws, wss_addr: ws.startsWith('wss://') ? ws : '' }
      },
      { query: t.Object({ uid: t.Optional(Uid) }), detail: doc('Where a client connects: {tcp_addr, ws_addr, wss_addr}', RouteOut) },
    )
}
