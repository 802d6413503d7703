/**
 * Typed, validated settings (SPEC §1). Values come from the environment or from CLI flags
 * (`--port 5001`, `--database-url …`); flags win. Nothing else in the program reads env/argv.
 */
import { postgresTarget } from './db/postgres-url'

export interface Config {
  port: number
  host: string
  /**
   * several processes on one host share the HTTP (and WKProto TCP) port (SO_REUSEPORT; the kernel
   * spreads new connections over them): past one process's open-file limit, or over more cores
   */
  reusePort: boolean
  databaseUrl: string | undefined
  dataDir: string
  managerToken: string | undefined
  tokenSecret: string | undefined
  tcpPort: number
  natsUrl: string | undefined
  nodeId: string | undefined
  /** NATS subject prefix: nodes with the same name on one NATS server form one cluster (§6) */
  clusterName: string
  webhookUrl: string | undefined
  /** largest accepted message payload in bytes (413 above) */
  maxPayloadBytes: number
  /** lifetime of tokens from /inner/get_token, seconds */
  tokenTtlSeconds: number
  /** public addresses returned by GET /route; derived from host/ports when unset */
  publicWsAddr: string | undefined
  publicTcpAddr: string | undefined
  logLevel: 'debug' | 'info' | 'warn' | 'error'
}

export class ConfigError extends Error {}

type Parser<T> = (raw: string, name: string) => T

const port: Parser<number> = (raw, name) => {
  if (!/^\d+$/.test(raw)) throw new ConfigError(`${name} must be a port number (0-65535), got "${raw}"`)
  const n = Number(raw)
  if (n > 65535) throw new ConfigError(`${name} must be a port number (0-65535), got "${raw}"`)
  return n
}
const positiveInt: Parser<number> = (raw, name) => {
  if (!/^\d+$/.test(raw) || Number(raw) < 1) throw new ConfigError(`${name} must be a positive integer, got "${raw}"`)
  return Number(raw)
}
const text: Parser<string> = (raw, name) => {
  if (raw.trim() === '') throw new ConfigError(`${name} must not be empty`)
  return raw
}
const url =
  (schemes: string[]): Parser<string> =>
  (raw, name) => {
    let parsed: URL
    try {
      parsed = new URL(raw)
    } catch {
      throw new ConfigError(`${name} must be a URL (${schemes.join(', ')}), got "${raw}"`)
    }
    if (!schemes.includes(parsed.protocol.replace(/:$/, '')))
      throw new ConfigError(`${name} must use one of ${schemes.join(', ')}, got "${raw}"`)
    return raw
  }
/** a Postgres URL, libpq's Unix-socket forms included (`user@/db?host=/run/postgresql`) */
const postgresUrl: Parser<string> = (raw, name) => {
  url(['postgres', 'postgresql'])(postgresTarget(raw).url, name)
  return raw
}
const flag01: Parser<boolean> = (raw, name) => {
  if (['1', 'true'].includes(raw)) return true
  if (['0', 'false'].includes(raw)) return false
  throw new ConfigError(`${name} must be 1, 0, true or false, got "${raw}"`)
}
const logLevel: Parser<Config['logLevel']> = (raw, name) => {
  if (!['debug', 'info', 'warn', 'error'].includes(raw))
    throw new ConfigError(`${name} must be one of debug, info, warn, error, got "${raw}"`)
  return raw as Config['logLevel']
}

/** One row per setting: env name, CLI flag, parser, default. */
const SETTINGS = {
  port: { env: 'PORT', flag: 'port', parse: port, def: 5001 },
  host: { env: 'HOST', flag: 'host', parse: text, def: '0.0.0.0' },
  reusePort: { env: 'IM_REUSE_PORT', flag: 'reuse-port', parse: flag01, def: false },
  databaseUrl: { env: 'DATABASE_URL', flag: 'database-url', parse: postgresUrl, def: undefined },
  dataDir: { env: 'IM_DATA_DIR', flag: 'data-dir', parse: text, def: './data' },
  managerToken: { env: 'IM_MANAGER_TOKEN', flag: 'manager-token', parse: text, def: undefined },
  tokenSecret: { env: 'IM_TOKEN_SECRET', flag: 'token-secret', parse: text, def: undefined },
  tcpPort: { env: 'IM_TCP_PORT', flag: 'tcp-port', parse: port, def: 5100 },
  natsUrl: { env: 'NATS_URL', flag: 'nats-url', parse: url(['nats', 'tls', 'ws', 'wss']), def: undefined },
  nodeId: { env: 'IM_NODE_ID', flag: 'node-id', parse: text, def: undefined },
  clusterName: { env: 'IM_CLUSTER_NAME', flag: 'cluster-name', parse: text, def: 'bunim' },
  webhookUrl: { env: 'IM_WEBHOOK_URL', flag: 'webhook-url', parse: url(['http', 'https']), def: undefined },
  maxPayloadBytes: { env: 'IM_MAX_PAYLOAD_BYTES', flag: 'max-payload-bytes', parse: positiveInt, def: 1024 * 1024 },
  tokenTtlSeconds: { env: 'IM_TOKEN_TTL', flag: 'token-ttl', parse: positiveInt, def: 24 * 3600 },
  publicWsAddr: { env: 'IM_WS_ADDR', flag: 'ws-addr', parse: text, def: undefined },
  publicTcpAddr: { env: 'IM_TCP_ADDR', flag: 'tcp-addr', parse: text, def: undefined },
  logLevel: { env: 'IM_LOG_LEVEL', flag: 'log-level', parse: logLevel, def: 'info' },
} as const satisfies { [K in keyof Config]: { env: string; flag: string; parse: Parser<unknown>; def: unknown } }

export const SETTING_FLAGS = Object.values(SETTINGS).map((s) => ({ flag: s.flag, env: s.env }))

/** Parses `--name value` / `--name=value` pairs; unknown flags are an error. */
function parseFlags(argv: string[]): Record<string, string> {
  const known = new Set<string>(Object.values(SETTINGS).map((s) => s.flag))
  const out: Record<string, string> = {}
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (!arg.startsWith('--')) throw new ConfigError(`unexpected argument "${arg}"`)
    const eq = arg.indexOf('=')
    const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq)
    if (!known.has(name)) throw new ConfigError(`unknown flag --${name}`)
    let value: string | undefined = eq === -1 ? argv[++i] : arg.slice(eq + 1)
    if (value === undefined) throw new ConfigError(`flag --${name} needs a value`)
    out[name] = value
  }
  return out
}

export function loadConfig(env: Record<string, string | undefined>, argv: string[] = []): Config {
  const flags = parseFlags(argv)
  const config = {} as Record<string, unknown>
  for (const [key, s] of Object.entries(SETTINGS)) {
    const fromFlag = flags[s.flag]
    const raw = fromFlag ?? env[s.env]
    const name = fromFlag !== undefined ? `--${s.flag}` : s.env
    config[key] = raw === undefined || (raw === '' && fromFlag === undefined) ? s.def : (s.parse as Parser<unknown>)(raw, name)
  }
  return config as unknown as Config
}

/** Settings for tests and embedding: defaults plus overrides, no env. */
export function testConfig(overrides: Partial<Config> = {}): Config {
  return { ...loadConfig({}), port: 0, tcpPort: 0, ...overrides }
}
