/**
 * One wukongimjssdk 1.0.4 instance (the SDK is a singleton, so each instance lives in its own
 * Worker with its own module graph). Driven by messages from the test; reports what the SDK saw.
 */
import WKSDK from 'wukongimjssdk'

declare const self: Worker

// The SDK logs every packet; keep test output readable.
console.log = () => {}

const sdk = WKSDK.shared()
type Cmd =
  | { cmd: 'connect'; addr: string; uid: string; token: string; heartbeatMs?: number }
  | { cmd: 'send'; channelId: string; channelType: number; text: string }
  | { cmd: 'disconnect' }

sdk.connectManager.addConnectStatusListener((status: number, reasonCode?: number) => {
  self.postMessage({ event: 'status', status, reasonCode })
})
sdk.chatManager.addMessageListener((m: any) => {
  // The SDK also notifies its own outgoing messages (status Wait, no messageID): report received ones only.
  if (!m.messageID) return
  self.postMessage({
    event: 'message',
    messageID: String(m.messageID),
    messageSeq: m.messageSeq,
    fromUID: m.fromUID,
    channelID: m.channel.channelID,
    channelType: m.channel.channelType,
    contentType: m.contentType,
    text: m.content?.text,
  })
})
sdk.chatManager.addMessageStatusListener((ack: any) => {
  self.postMessage({ event: 'sendack', clientSeq: ack.clientSeq, reasonCode: ack.reasonCode, messageID: ack.messageID.toString(), messageSeq: ack.messageSeq })
})

self.onmessage = async (e: MessageEvent<Cmd>) => {
  const c = e.data
  if (c.cmd === 'connect') {
    sdk.config.addr = c.addr
    sdk.config.uid = c.uid
    sdk.config.token = c.token
    if (c.heartbeatMs) sdk.config.heartbeatInterval = c.heartbeatMs
    sdk.connect()
  } else if (c.cmd === 'send') {
    const m = await sdk.chatManager.send(sdk.newMessageText(c.text), sdk.newChannel(c.channelId, c.channelType))
    self.postMessage({ event: 'sent', clientSeq: m.clientSeq, clientMsgNo: m.clientMsgNo })
  } else if (c.cmd === 'disconnect') {
    sdk.disconnect()
  }
}
self.postMessage({ event: 'ready' })
