/**
 * Runs BunIM as a real child process (source or compiled binary), for tests that need signals,
 * SIGKILL or a restart on the same data.
 */
import type { Subprocess } from 'bun'
import { eventually } from './wait'

/** The bun that runs the tests (bun may not be on PATH outside npm scripts). */
export const BUN = process.execPath

export interface ChildServer {
  proc: Subprocess<'ignore', 'pipe', 'pipe'>
  url: string
  port: number
  /** everything the process printed so far (stdout + stderr) */
  output(): string
}

/** A free TCP port on loopback (bind to 0, read it, release it). */
export function freePort(): number {
  const s = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } })
  const port = s.port
  s.stop(true)
  return port
}

export async function spawnServer(opts: {
  cmd: string[]
  cwd?: string
  env: Record<string, string>
  /** inherit the parent's environment (PATH etc.); false = an empty environment */
  inheritEnv?: boolean
  readyTimeoutMs?: number
}): Promise<ChildServer> {
  const port = freePort()
  const env = { ...(opts.inheritEnv === false ? {} : process.env), PORT: String(port), IM_TCP_PORT: '0', IM_LOG_LEVEL: 'info', ...opts.env } as Record<string, string>
  const proc = Bun.spawn(opts.cmd, { cwd: opts.cwd, env, stdin: 'ignore', stdout: 'pipe', stderr: 'pipe' })
  let text = ''
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder()
    const reader = stream.getReader()
    for (;;) {
      const { done, value } = await reader.read()
      if (done) return
      text += decoder.decode(value)
    }
  }
  void pump(proc.stdout)
  void pump(proc.stderr)
  const url = `http://127.0.0.1:${port}`
  await eventually(
    async () => {
      if (proc.exitCode !== null) throw new Error(`server exited early (${proc.exitCode}): ${text}`)
      return (await fetch(`${url}/health`)).status === 200
    },
    opts.readyTimeoutMs ?? 20000,
    100,
  )
  return { proc, url, port, output: () => text }
}

/** Sends a signal and waits for the exit; returns the exit code and how long it took. */
export async function stopWith(child: ChildServer, signal: 'SIGTERM' | 'SIGINT' | 'SIGKILL'): Promise<{ code: number | null; ms: number }> {
  const started = Date.now()
  child.proc.kill(signal)
  const code = await child.proc.exited
  return { code, ms: Date.now() - started }
}
