import type { Command } from 'commander';
import { loadStateConfig } from '../../config/load.js';
import { createCensus } from '../../pipeline/census.js';
import { formatProfitRule, formatPyramid } from '../format.js';
import { formatShare } from '../../policy/describe.js';
import { formatMinor } from '../../policy/money.js';
import { RankingStore } from '../../state/ranking.js';
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
    const { policy } = state;
    // Relative tiers: the boundaries in force, as the coordinator last published them.
    const latest = policy.ranking === undefined ? null : await new RankingStore(state.redis, config.keyPrefix).readLatest();
    if (opts.json === true) {
      console.log(JSON.stringify(latest === null ? census : { ...census, boundaries: latest.boundaries }, null, 2));
      return;
    }
    console.log(`pyramid report: policy ${policy.name} ${policy.version}, key prefix ${config.keyPrefix}, ${state.partitions.length} partitions with state`);
    console.log(formatPyramid(census));
    if (census.profitConcentration !== undefined) console.log(formatProfitRule(census.profitConcentration, census.minorUnitDigits, census.currency));
    if (policy.ranking === undefined) return;
    if (latest === null) {
      console.log('relative boundaries: none published yet (nobody is in a relative tier until the first epoch)');
      return;
    }
    const b = latest.boundaries;
    console.log(`relative boundaries: epoch ${b.epoch} computed at ${new Date(b.at).toISOString()} over ${b.population} ranked customers`);
    for (const cut of b.cuts) {
      const value = cut.key === null ? 'nobody (rank 0)' : `${cut.metric === 'monetary' ? `${formatMinor(cut.key.value, policy.minorUnitDigits)} ${policy.currency}` : cut.key.value} (customer ${cut.key.customerId})`;
      console.log(`  top ${formatShare(cut.bps)} by ${cut.metric}: rank ${cut.rank}, boundary ${value}`);
    }
  } finally {
    state.close();
  }
}
