/**
 * Runs the embedded broker as its own process:
 *   tsx packages/devstack/src/broker/main.ts [--host 127.0.0.1] [--port 9092] [--data-dir DIR]
 *                                   [--partitions 1] [--fsync never|always]
 * Logs JSON lines to stdout; the `broker listening` line carries the bound port. SIGINT/SIGTERM
 * close it cleanly; the crash tests kill it with SIGKILL instead.
 */
import { parseArgs } from 'node:util';
import { createLogger } from '../logger.js';
import { startBroker } from './index.js';

const { values } = parseArgs({
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '9092' },
    'data-dir': { type: 'string' },
    partitions: { type: 'string', default: '1' },
    fsync: { type: 'string', default: 'never' },
  },
});

const fsync = values.fsync;
if (fsync !== 'never' && fsync !== 'always') {
  // Not a silent 'never': a mistyped --fsync would quietly weaken what an ack promises.
  process.stderr.write(`broker: --fsync must be 'never' or 'always', got '${fsync}'\n`);
  process.exit(2);
}

const logger = createLogger('broker');
const broker = await startBroker({
  host: values.host,
  port: Number(values.port),
  dataDir: values['data-dir'] ?? null,
  defaultPartitions: Number(values.partitions),
  fsync,
  logger,
});

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void broker.close().then(() => process.exit(0));
  });
}
