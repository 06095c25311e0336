import type { Command } from 'commander';
import { loadConfig } from '../../config/load.js';
import { redactedConfig } from '../../config/redact.js';
import { Instrumentation } from '../../instrumentation.js';
import { createLogger, type Logger } from '../../logger.js';
import { createScorer, type Scorer } from '../../pipeline/scorer.js';
import { startScorerOps } from '../ops-wiring.js';
import { exitOnceStopped, exitStoppedDuringStartUp, nextStopSignal, unlessStopped } from '../signals.js';

interface RunOptions {
  config?: string;
}

/**
 * `pyramid run`: the production scorer. Configuration from PYRAMID_* variables over an optional
 * config file; the ops server (/metrics /healthz /readyz and the status page) on PYRAMID_HTTP_HOST
 * (127.0.0.1) and PYRAMID_HTTP_PORT (9464). SIGTERM/SIGINT: finish the batches in hand, flush the
 * outboxes, commit, disconnect, exit 0; during start-up (connecting, joining the group) there is
 * nothing to finish, so it exits 0 at once. A start-up failure (a taken port, an unreachable
 * broker, a bad policy) exits 1 with one line naming it; a fatal error later (e.g. state written
 * by another policy version) is logged and exits 1.
 */
export function register(program: Command): void {
  program
    .command('run')
    .description('Run the scorer: consume transactions, keep RFM state in Redis, publish tier changes')
    .option('--config <file>', 'YAML/JSON config file (environment variables override it; default PYRAMID_CONFIG_FILE)')
    .action(async (opts: RunOptions) => {
      await run(opts);
    });
}

async function run(opts: RunOptions): Promise<void> {
  const config = loadConfig(process.env, opts.config);
  const logger = createLogger({ level: config.logLevel, name: 'pyramid' });
  logger.info({ config: redactedConfig(config) }, 'starting');
  const instrumentation = new Instrumentation();
  const scorer = createScorer(config, { logger, instrumentation });
  const stop = nextStopSignal();
  try {
    const ops = await startScorerOps({
      scorer,
      port: config.http.port,
      host: config.http.host,
      logger,
      settings: { port: 'PYRAMID_HTTP_PORT', host: 'PYRAMID_HTTP_HOST' },
    });
    try {
      // A start-up failure is thrown as it is: main prints it as one line, and the scorer has
      // already closed what it had opened.
      const start = await unlessStopped(scorer.start(), stop.signal);
      if ('signal' in start) await exitStoppedDuringStartUp(start.signal, logger, () => ops.close());
      ops.scorerStarted();
      await serve(scorer, stop.signal, logger);
    } finally {
      await ops.close();
    }
  } finally {
    stop.dispose();
    exitOnceStopped(logger);
  }
}

/** The running scorer until a stop signal (graceful stop) or a fatal error (logged, rethrown). */
async function serve(scorer: Scorer, signal: Promise<NodeJS.Signals>, logger: Logger): Promise<void> {
  try {
    const outcome = await Promise.race([signal.then((received) => ({ signal: received })), scorer.done.then(() => ({ signal: undefined }))]);
    logger.info({ signal: outcome.signal }, 'stopping: finishing the batches in hand');
    await scorer.stop();
    logger.info('stopped cleanly');
  } catch (err) {
    logger.fatal({ err }, 'scorer failed');
    await scorer.stop().catch(() => undefined);
    throw err;
  }
}
