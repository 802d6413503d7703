/**
 * The WuKongIM server API (SPEC §3, seeds 000/001): thin routes over src/core, manager-authenticated,
 * errors as `{status, msg}`.
 */
import { Elysia } from 'elysia'
import type { AppContext } from '../../context'
import { channelRoutes } from './channels'
import { conversationRoutes } from './conversations'
import { messageRoutes } from './messages'
import { userRoutes } from './users'

export function wukongimRoutes(ctx: AppContext) {
  return new Elysia({ name: 'wukongim' }).use(userRoutes(ctx)).use(channelRoutes(ctx)).use(messageRoutes(ctx)).use(conversationRoutes(ctx))
}
