/**
 * `figway serve`: the only place that reads process.env, handles signals and listens.
 * SIGTERM/SIGINT drain and exit 0 (spec §8); SIGHUP reloads the routes (spec §7).
 */
import { createGateway, type Gateway } from './app.ts'
import { loadGatewayConfig } from './config/load.ts'
import { createLogger, flushLogger, type Logger } from './telemetry/logger.ts'

export interface ServeOptions {
  /**
   * Starts serving once the gateway is built, instead of binding both ports: a cluster
   * worker (cluster.ts) binds only the data port, when its primary says so.
   */
  readonly start?: (gw: Gateway, logger: Logger) => Promise<void>
}

export async function serve (configFile: string, opts: ServeOptions = {}): Promise<void> {
  const config = loadGatewayConfig(configFile, process.env)
  const logger = createLogger(config.telemetry.logLevel, config.telemetry.serviceName)
  // Signals are handled from the start: a SIGHUP while the table loads must not kill the
  // process (its default action), and a SIGTERM before listening just exits.
  const live: { gw: Gateway | undefined } = { gw: undefined }
  let stopping = false
  const stop = (signal: string): void => {
    if (stopping) return
    stopping = true
    logger.info({ signal }, 'shutdown requested')
    if (live.gw === undefined) { flushLogger(logger); process.exit(0) }
    live.gw.shutdown().then(() => {
      flushLogger(logger)
      process.exit(0)
    }, (err: unknown) => {
      logger.error({ err }, 'shutdown failed')
      flushLogger(logger)
      process.exit(1)
    })
  }
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))
  process.on('SIGHUP', () => { live.gw?.reload('SIGHUP').catch(() => {}) })
  const gw = await createGateway(config, { logger, env: process.env, processTelemetry: true })
  live.gw = gw
  if (stopping) { await gw.close(); process.exit(0) }
  if (opts.start === undefined) await gw.listen()
  else await opts.start(gw, logger)
}
