#!/usr/bin/env bun
/**
 * CLI: `bunim serve [--port N …]`, `bunim migrate`, `bunim help`. The only place that reads
 * argv and the environment.
 */
import { ConfigError, loadConfig, SETTING_FLAGS } from './config'
import { openDatabase } from './db/client'
import { migrate } from './db/migrate'
import { createLogger } from './log'
import { startServer } from './server'
import { VERSION } from './version'

const USAGE = `bunim ${VERSION} — IM server (WuKongIM + quick-im-core APIs)

usage: bunim [serve|migrate|healthcheck|version|help] [--flag value …]

settings (flag / environment variable):
${SETTING_FLAGS.map((s) => `  --${s.flag.padEnd(18)} ${s.env}`).join('\n')}
`

async function main(argv: string[]): Promise<number> {
  const [command = 'serve', ...rest] = argv[0]?.startsWith('--') ? ['serve', ...argv] : argv
  if (command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(USAGE)
    return 0
  }
  if (command === 'version') {
    process.stdout.write(VERSION + '\n')
    return 0
  }
  let config
  try {
    config = loadConfig(process.env, rest)
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`bunim: invalid setting: ${err.message}\n`)
      return 2
    }
    throw err
  }
  const log = createLogger(config.logLevel)
  if (command === 'migrate') {
    const database = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir })
    const applied = await migrate(database)
    await database.close()
    log.info('migrations done', { applied })
    return 0
  }
  if (command === 'healthcheck') {
    // For container health checks: no curl needed in the image.
    try {
      const res = await fetch(`http://127.0.0.1:${config.port}/health`, { signal: AbortSignal.timeout(3000) })
      return res.status === 200 ? 0 : 1
    } catch {
      return 1
    }
  }
  if (command !== 'serve') {
    process.stderr.write(`bunim: unknown command "${command}"\n\n${USAGE}`)
    return 2
  }
  // Listen for signals before starting: a SIGTERM that arrives while the database opens must
  // still lead to a clean stop (the default action would kill the process mid-start).
  const signalled = new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'))
    process.once('SIGINT', () => resolve('SIGINT'))
  })
  const server = await startServer(config, log)
  const signal = await signalled
  log.info('shutting down', { signal })
  // Hard deadline: exit within 5 s whatever a step does.
  const deadline = setTimeout(() => {
    log.error('shutdown deadline passed, exiting')
    process.exit(1)
  }, 4800)
  await server.stop()
  clearTimeout(deadline)
  log.info('stopped')
  return 0
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`bunim: ${err instanceof Error ? err.message : String(err)}\n`)
    process.exit(1)
  },
)
