import type { Command } from 'commander';
import { loadStateConfig } from '../../config/load.js';
import { createCensus } from '../../pipeline/census.js';
import { formatPyramid } from '../format.js';
import { openState } from '../state-access.js';

interface ReportOptions {
  config?: string;
  json?: boolean;
}

/**
 * `pyramid report`: the pyramid computed from the Redis state: per tier the customers, their
 * share, rolling revenue, its share and the average per customer. Scans each partition's customer
 * hashes with SCAN (cursor-based, never blocking Redis), so it costs O(customers).
 */
export function register(program: Command): void {
  program
    .command('report')
    .description('Print the customer pyramid (customers and revenue per tier) from the Redis state')
    .option('--config <file>', 'YAML/JSON config file (environment variables override it)')
    .option('--json', 'print the census as JSON')
    .action(async (opts: ReportOptions) => {
      await report(opts);
    });
}

async function report(opts: ReportOptions): Promise<void> {
  const config = loadStateConfig(process.env, opts.config);
  const state = await openState(config);
  try {
    const census = await createCensus({
      redis: state.redis,
      store: state.store,
      policy: state.policy,
      topic: config.topics.transactions,
      clock: config.clock,
      partitions: () => state.partitions,
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
