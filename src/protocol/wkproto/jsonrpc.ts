/**
 * WuKongIM's JSON-RPC 2.0 variant of WKProto (WKPROTO.md §6): same socket, text frames, no
 * encryption. This module only parses requests and builds replies; session.ts acts on them.
 */

export interface RpcRequest {
  method: string
  /** undefined for a notification */
  id: string | undefined
  params: Record<string, unknown>
}

export type RpcParse = { ok: true; request: RpcRequest } | { ok: false; id: string | undefined; code: number; message: string }

export const RpcError = { parse: -32700, invalidRequest: -32600, methodNotFound: -32601, invalidParams: -32602 } as const

export function parseRpc(text: string): RpcParse {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return { ok: false, id: undefined, code: RpcError.parse, message: 'parse error: not valid JSON' }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { ok: false, id: undefined, code: RpcError.invalidRequest, message: 'invalid request: expected one JSON object' }
  const o = value as Record<string, unknown>
  const id = typeof o.id === 'string' ? o.id : typeof o.id === 'number' ? String(o.id) : undefined
  if (o.jsonrpc !== undefined && o.jsonrpc !== '2.0') return { ok: false, id, code: RpcError.invalidRequest, message: 'invalid request: jsonrpc must be "2.0"' }
  if (typeof o.method !== 'string' || !o.method) return { ok: false, id, code: RpcError.invalidRequest, message: 'invalid request: method is required' }
  const params = o.params === undefined ? {} : o.params
  if (typeof params !== 'object' || params === null || Array.isArray(params)) return { ok: false, id, code: RpcError.invalidParams, message: 'invalid params: params must be an object' }
  return { ok: true, request: { method: o.method, id, params: params as Record<string, unknown> } }
}

export const rpcResult = (id: string, result: unknown) => JSON.stringify({ jsonrpc: '2.0', id, result })
export const rpcError = (id: string | undefined, code: number, message: string) => JSON.stringify({ jsonrpc: '2.0', id: id ?? null, error: { code, message } })
export const rpcNotification = (method: string, params: unknown) => JSON.stringify({ jsonrpc: '2.0', method, params })

/** Field readers that say which field is wrong. */
export class ParamError extends Error {}

export function str(p: Record<string, unknown>, name: string, required = true): string {
  const v = p[name]
  if (v === undefined || v === null) {
    if (required) throw new ParamError(`invalid params: ${name} is required`)
    return ''
  }
  if (typeof v !== 'string') throw new ParamError(`invalid params: ${name} must be a string`)
  return v
}

export function int(p: Record<string, unknown>, name: string, dflt: number | undefined, min = 0, max = 0xffffffff): number {
  const v = p[name]
  if (v === undefined || v === null) {
    if (dflt === undefined) throw new ParamError(`invalid params: ${name} is required`)
    return dflt
  }
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) throw new ParamError(`invalid params: ${name} must be an integer ${min}-${max}`)
  return n
}

const flag = (v: unknown) => v === true || v === 1

const STRICT_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

/** payload: an inline JSON value (docs, 2025 code) or a base64 string (Go []byte, 2026 code). */
export function payloadOf(p: Record<string, unknown>): Uint8Array {
  const v = p.payload
  if (v === undefined || v === null) throw new ParamError('invalid params: payload is required')
  if (typeof v === 'string') {
    if (!STRICT_BASE64.test(v)) throw new ParamError('invalid params: payload must be a JSON object or a base64 string')
    return Buffer.from(v, 'base64')
  }
  return Buffer.from(JSON.stringify(v), 'utf8')
}

/** The payload as we emit it: inline when it is a JSON object (what JSON-RPC clients send), else base64. */
export function payloadJson(payload: Uint8Array): unknown {
  const text = Buffer.from(payload).toString('utf8')
  if (text.startsWith('{')) {
    try {
      const v = JSON.parse(text)
      if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v
    } catch {
      // not JSON: base64 below
    }
  }
  return Buffer.from(payload).toString('base64')
}

export function headerOf(p: Record<string, unknown>): { noPersist: boolean; redDot: boolean; syncOnce: boolean } {
  const h = p.header
  if (h === undefined || h === null) return { noPersist: false, redDot: true, syncOnce: false }
  if (typeof h !== 'object') throw new ParamError('invalid params: header must be an object')
  const o = h as Record<string, unknown>
  return { noPersist: flag(o.noPersist), redDot: o.redDot === undefined ? true : flag(o.redDot), syncOnce: flag(o.syncOnce) }
}

/** setting {receipt, signal, stream, topic} → the setting byte (stream on GoProto's current bit). */
export function settingOf(p: Record<string, unknown>): number {
  const s = p.setting
  if (s === undefined || s === null) return 0
  if (typeof s === 'number' && Number.isInteger(s) && s >= 0 && s <= 255) return s
  if (typeof s !== 'object') throw new ParamError('invalid params: setting must be an object')
  const o = s as Record<string, unknown>
  return (flag(o.receipt) ? 0x80 : 0) | (flag(o.signal) ? 0x20 : 0) | (flag(o.topic) ? 0x08 : 0) | (flag(o.stream) ? 0x02 : 0)
}

export function settingJson(setting: number) {
  return { receipt: (setting & 0x80) !== 0, signal: (setting & 0x20) !== 0, topic: (setting & 0x08) !== 0, stream: (setting & 0x06) !== 0 }
}
