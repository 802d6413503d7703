/** /channel and its subscriber / black / white list endpoints */
import type { AppContext } from '../../context'
import { OK, doc, wukongimBase } from './base'
import { ChannelBody, ChannelKeyBody, ChannelKeyQuery, ListBody, SubscribersBody, UidList } from './models'

const key = (b: { channel_id: string; channel_type: number }) => ({ channelId: b.channel_id, channelType: b.channel_type })

export function channelRoutes(ctx: AppContext) {
  const { channels } = ctx.core
  const lists = (['black', 'white'] as const).flatMap((list) =>
    (['add', 'remove', 'set'] as const).map((op) => ({ list, op, path: `/channel/${list}list_${op}` })),
  )
  const listRoutes = wukongimBase(ctx)
  for (const { list, op, path } of lists) {
    // Elysia registers in place: the instance itself collects the six routes.
    listRoutes.post(
      path,
      async ({ body }) => {
        await channels.setList(key(body), list, body.uids, op)
        return OK
      },
      {
        parse: 'json', body: ListBody,
        detail: doc(
          `${op} uids ${op === 'set' ? 'as' : op === 'add' ? 'to' : 'from'} the ${list}list` +
            (list === 'black' ? ' (blacklisted uids cannot send)' : ' (when a whitelist exists only its uids can send)'),
        ),
      },
    )
  }
  return wukongimBase(ctx)
    .post(
      '/channel',
      async ({ body }) => {
        await channels.upsert({ ...key(body), subscribers: body.subscribers, reset: !!body.reset, ban: body.ban, disband: body.disband })
        return OK
      },
      { parse: 'json', body: ChannelBody, detail: doc('Create or update a channel (reset replaces the subscriber list)') },
    )
    .post(
      '/channel/subscriber_add',
      async ({ body }) => {
        await channels.addSubscribers(key(body), body.subscribers, !!body.reset)
        return OK
      },
      { parse: 'json', body: SubscribersBody, detail: doc('Add subscribers (reset: replace the list); new ones start with nothing unread') },
    )
    .post(
      '/channel/subscriber_remove',
      async ({ body }) => {
        await channels.removeSubscribers(key(body), body.subscribers)
        return OK
      },
      { parse: 'json', body: SubscribersBody, detail: doc('Remove subscribers: they stop receiving at once and lose the conversation') },
    )
    .post(
      '/channel/delete',
      async ({ body }) => {
        await channels.delete(key(body))
        return OK
      },
      { parse: 'json', body: ChannelKeyBody, detail: doc('Delete a channel') },
    )
    .get('/channel/whitelist', ({ query }) => channels.getList(key(query), 'white'), {
      query: ChannelKeyQuery,
      detail: doc('The channel’s whitelist (uids)', UidList),
    })
    .get('/channel/blacklist', ({ query }) => channels.getList(key(query), 'black'), {
      query: ChannelKeyQuery,
      detail: doc('The channel’s blacklist (uids)', UidList),
    })
    .use(listRoutes)
}
