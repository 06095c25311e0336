import type { Command } from 'commander';
import { loadStateConfig } from '../../config/load.js';
import { createCensus } from '../../pipeline/census.js';
import { formatProfitRule, formatPyramid } from '../format.js';
import { openState } from '../state-access.js';

interface ReportOptions {
  config?: string;
  json?: boolean;
  recount?: boolean;
}

/**
 * `pyramid report`: the pyramid from the Redis state: per tier the customers, their share,
 * rolling revenue, its share and the average per customer, rolling profit, its share and the
 * profit per customer. Reads the per-tier counters the engine keeps per partition; `--recount`
 * counts every customer instead (HSCAN, cursor based, never blocking Redis; O(customers)), a
 * cross-check of the counters. The 80/20/30 line below the table ranks every customer by profit
 * (one such scan per report).
 */
export function register(program: Command): void {
  program
    .command('report')
    .description('Print the customer pyramid (customers, revenue and profit per tier, and the 80/20/30 profit rule) from the Redis state')
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
      // The 80/20/30 line ranks every customer by profit: one scan per report.
      profitConcentrationEveryMs: 0,
    }).census();
    if (opts.json === true) {
      console.log(JSON.stringify(census, null, 2));
      return;
    }
    console.log(`pyramid report: policy ${state.policy.name} ${state.policy.version}, key prefix ${config.keyPrefix}, ${state.partitions.length} partitions with state`);
    console.log(formatPyramid(census));
    if (census.profitConcentration !== undefined) console.log(formatProfitRule(census.profitConcentration, census.minorUnitDigits, census.currency));
  } finally {
    state.close();
  }
}
