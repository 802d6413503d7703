// BunIM web chat (served at GET /), on the quick-im gateway API (SPEC §4):
// join = POST /inner/get_token → join (or create) the conversation → GET /notify?protoc=ws →
// the last 30 messages. Sends go through POST /send_msg and come back on the socket (echo).
// Message text is user data: it is only ever set with textContent.
'use strict'

const $ = (id) => document.getElementById(id)
/** quick-im platform of this page: a second tab of the same uid replaces the first (close 4001) */
const PLATFORM = 1
/** the joined session: { uid, token, conversationId, socket } */
let current

function setStatus(text, isError = false) {
  $('status').textContent = text
  $('status').classList.toggle('error', isError)
}

/** POST a quick-im call; its envelope is {code:0,data} or {code,error} */
async function call(path, body, headers = {}) {
  const res = await fetch(path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) })
  const reply = await res.json().catch(() => ({ code: -1, error: `HTTP ${res.status}` }))
  if (reply.code !== 0) throw new Error(`${path}: ${reply.error ?? `code ${reply.code}`}`)
  return reply.data
}

const asClient = (session, path, body) => call(path, body, { authorization: `Bearer ${session.token}` })

/** adds a message once, in MsgId order (MsgIds sort as strings in send order) */
function show(msg) {
  const list = $('messages')
  if (list.querySelector(`li[data-id="${CSS.escape(msg.MsgId)}"]`)) return
  const item = document.createElement('li')
  item.dataset.id = msg.MsgId
  item.classList.toggle('mine', msg.FromSession === current?.uid)
  for (const [cls, text] of [
    ['time', new Date(msg.SendTime / 1000).toLocaleTimeString()],
    ['from', msg.FromSession || 'system'],
    ['text', msg.Content],
  ]) {
    const span = document.createElement('span')
    span.className = cls
    span.textContent = text
    item.append(span)
  }
  let before = null
  for (let li = list.lastElementChild; li && li.dataset.id > msg.MsgId; li = li.previousElementSibling) before = li
  const atBottom = list.scrollTop + list.clientHeight >= list.scrollHeight - 4
  list.insertBefore(item, before)
  if (atBottom) list.scrollTop = list.scrollHeight
}

/** resolves once the socket is open; every message of the session's conversations arrives on it */
function openSocket(session) {
  return new Promise((resolve, reject) => {
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws'
    const socket = new WebSocket(`${scheme}://${location.host}/notify?protoc=ws&token=${encodeURIComponent(session.token)}`)
    session.socket = socket
    socket.onopen = () => resolve()
    socket.onerror = () => reject(new Error('/notify: WebSocket failed'))
    socket.onmessage = (event) => {
      const msg = JSON.parse(event.data)
      if (msg.ConversationID === session.conversationId) show(msg)
    }
    socket.onclose = (event) => {
      if (current === session) setStatus(`Disconnected (${event.code}${event.reason ? ` ${event.reason}` : ''}). Join again.`, true)
    }
  })
}

function leave() {
  const session = current
  current = undefined
  session?.socket?.close()
  $('messages').replaceChildren()
  $('text').disabled = $('send').disabled = true
}

async function join(event) {
  event.preventDefault()
  leave()
  const uid = $('uid').value.trim()
  const manager = $('manager').value.trim()
  const session = { uid }
  current = session
  try {
    setStatus('Getting a token…')
    session.token = await call('/inner/get_token', { session: uid, platform: PLATFORM }, manager ? { token: manager } : {})
    let conversationId = $('conversation').value.trim()
    if (conversationId) await asClient(session, '/join_conversation', { conversation_id: conversationId })
    else conversationId = $('conversation').value = (await asClient(session, '/create_conversation', { conversation_type: 0 })).ConversationId
    session.conversationId = conversationId
    // socket first, then history: a message sent in between is in one or both (show() skips repeats)
    await openSocket(session)
    const { Msg } = await asClient(session, '/get_conversation_last_30_msg', { conversation_id: conversationId })
    if (current !== session) return
    Msg.forEach(show)
    // uid and conversation (never the manager token) in the address: a reload or a shared link fills them in
    history.replaceState(null, '', `#${new URLSearchParams({ uid, conversation: conversationId })}`)
    $('text').disabled = $('send').disabled = false
    setStatus(`Joined ${conversationId} as ${uid}.`)
  } catch (err) {
    if (current === session) setStatus(err.message, true)
  }
}

async function send(event) {
  event.preventDefault()
  const text = $('text').value
  if (!current?.conversationId || !text) return
  try {
    await asClient(current, '/send_msg', { conversation_id: current.conversationId, content: text })
    $('text').value = ''
  } catch (err) {
    setStatus(err.message, true)
  }
}

const saved = new URLSearchParams(location.hash.slice(1))
$('uid').value = saved.get('uid') ?? ''
$('conversation').value = saved.get('conversation') ?? ''
$('join-form').addEventListener('submit', join)
$('send-form').addEventListener('submit', send)
