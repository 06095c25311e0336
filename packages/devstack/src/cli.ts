#!/usr/bin/env node
import { Command, InvalidArgumentError } from 'commander';
import { startDevStack } from './dev-stack.js';
import { createLogger } from './logger.js';

interface DevStackCommandOptions {
  dataDir: string;
  inMemory?: boolean;
  brokerPort: number;
  registryPort: number;
  host: string;
  partitions?: number;
  autoCreateTopics: boolean;
}

/** Give up on a clean shutdown after this long, so a stuck client cannot keep the ports forever. */
const SHUTDOWN_GRACE_MS = 10_000;

/**
 * `dev-stack` (`npm run dev-stack` at the repository root): run the embedded broker and schema
 * registry in the foreground until SIGINT or SIGTERM. The one human line goes to stdout (scripts
 * and tests read the addresses from it); logs go to stderr as JSON.
 */
function buildProgram(): Command {
  return new Command('dev-stack')
    .description('Run the embedded Kafka-protocol broker and schema registry (development, tests, demos)')
    .option('--data-dir <dir>', 'where broker logs and registry data are kept', './.pyramid-data')
    .option('--in-memory', 'keep nothing on disk (wins over --data-dir)')
    .option('--broker-port <port>', 'Kafka port; 0 picks a free one', parseIntegerIn(0, 65535), 9092)
    .option('--registry-port <port>', 'schema registry port; 0 picks a free one', parseIntegerIn(0, 65535), 8081)
    .option('--host <host>', 'interface to bind and advertise', '127.0.0.1')
    .option('--partitions <n>', 'partitions of auto-created topics', parseIntegerIn(1, 10_000))
    .option('--no-auto-create-topics', 'refuse to create topics on first use')
    .showHelpAfterError()
    .action(async (opts: DevStackCommandOptions) => {
      await runDevStack(opts);
    });
}

async function runDevStack(opts: DevStackCommandOptions): Promise<void> {
  const logger = createLogger('pyramid-dev-stack', process.stderr);
  const dataDir = opts.inMemory === true ? undefined : opts.dataDir;
  const stack = await startDevStack({
    host: opts.host,
    brokerPort: opts.brokerPort,
    registryPort: opts.registryPort,
    dataDir,
    autoCreateTopics: opts.autoCreateTopics,
    defaultPartitions: opts.partitions,
    logger,
  });
  console.log(`broker ${stack.brokers.join(',')}  registry ${stack.registryUrl}  data ${dataDir ?? 'in-memory'}`);

  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  logger.info({ signal }, 'dev stack stopping');
  // A second signal, or a close that hangs, ends the process without waiting any longer.
  const forceExit = (): never => process.exit(1);
  process.once('SIGINT', forceExit);
  process.once('SIGTERM', forceExit);
  setTimeout(() => {
    logger.error({ graceMs: SHUTDOWN_GRACE_MS }, 'dev stack did not stop in time; exiting');
    forceExit();
  }, SHUTDOWN_GRACE_MS).unref();

  await stack.close();
  process.off('SIGINT', forceExit);
  process.off('SIGTERM', forceExit);
  logger.info('dev stack stopped');
}

function parseIntegerIn(min: number, max: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || n < min || n > max) {
      throw new InvalidArgumentError(`expected an integer from ${min} to ${max}`);
    }
    return n;
  };
}

buildProgram()
  .parseAsync(process.argv)
  .catch((err: unknown) => {
    // One line an operator acts on (the message names the option or the address), like pyramid's CLI.
    console.error(`dev-stack: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  });
