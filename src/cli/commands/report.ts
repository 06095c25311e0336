import type { Command } from 'commander';
import { loadStateConfig } from '../../config/load.js';
import { createCensus } from '../../pipeline/census.js';
import { formatPyramid } from '../format.js';
import { openState } from '../state-access.js';

interface ReportOptions {
  config?: string;
  json?: boolean;
  recount?: boolean;
}

/**
 * `pyramid report`: the pyramid from the Redis state: per tier the customers, their share,
 * rolling revenue, its share and the average per customer. Reads the per-tier counters the engine
 * keeps per partition; `--recount` counts every customer instead (HSCAN, cursor based, never
 * blocking Redis; O(customers)), a cross-check of the counters.
 */
export function register(program: Command): void {
  program
    .command('report')
    .description('Print the customer pyramid (customers and revenue per tier) from the Redis state')
    .option('--config <file>', 'YAML/JSON config file (environment variables override it)')
    .option('--json', 'print the census as JSON')
    .option('--recount', 'count every customer instead of reading the per-tier counters (slow on a large state; a cross-check)')
    .action(async (opts: ReportOptions) => {
      await report(opts);
    });
}

async function report(opts: ReportOptions): Promise<void> {
  const config = loadStateConfig(process.env, opts.config);
  const state = await openState(config);
  try {
    const census = await createCensus({
      store: state.store,
      policy: state.policy,
      topic: config.topics.transactions,
      clock: config.clock,
      partitions: () => state.partitions,
      method: opts.recount === true ? 'scan' : 'counters',
    }).census();
    if (opts.json === true) {
      console.log(JSON.stringify(census, null, 2));
      return;
    }
    console.log(`pyramid report: policy ${state.policy.name} ${state.policy.version}, key prefix ${config.keyPrefix}, ${state.partitions.length} partitions with state`);
    console.log(formatPyramid(census));
  } finally {
    state.close();
  }
}
