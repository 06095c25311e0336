import type { Command } from 'commander';
import { loadConfig } from '../../config/load.js';
import { redactedConfig } from '../../config/redact.js';
import { Instrumentation } from '../../instrumentation.js';
import { createLogger } from '../../logger.js';
import { createScorer } from '../../pipeline/scorer.js';
import { startScorerOps } from '../ops-wiring.js';
import { nextStopSignal } from '../signals.js';

interface RunOptions {
  config?: string;
}

/**
 * `pyramid run`: the production scorer. Configuration from PYRAMID_* variables over an optional
 * config file; the ops server (/metrics /healthz /readyz and the status page) on PYRAMID_HTTP_PORT
 * (9464). SIGTERM/SIGINT: finish the batches in hand, flush the outboxes, commit, disconnect,
 * exit 0. A fatal error (e.g. state written by another policy version) exits 1.
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
  const ops = await startScorerOps({ scorer, port: config.http.port, logger });
  try {
    await scorer.start();
    ops.scorerStarted();
    const outcome = await Promise.race([stop.signal.then((signal) => ({ signal })), scorer.done.then(() => ({ signal: undefined }))]);
    logger.info({ signal: outcome.signal }, 'stopping: finishing the batches in hand');
    await scorer.stop();
    logger.info('stopped cleanly');
  } catch (err) {
    logger.fatal({ err }, 'scorer failed');
    await scorer.stop().catch(() => undefined);
    throw err;
  } finally {
    await ops.close();
    stop.dispose();
  }
}
