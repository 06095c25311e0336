import type { Command } from 'commander';
import { loadStateConfig } from '../../config/load.js';
import { boundariesInForce, inspectCustomer } from '../../pipeline/inspect.js';
import { formatMinor } from '../format.js';
import { RankingStore } from '../../state/ranking.js';
import { openState } from '../state-access.js';

interface InspectOptions {
  config?: string;
  json?: boolean;
}

/** `pyramid inspect <customerId>`: a customer's stored state and its evaluation now, from Redis. */
export function register(program: Command): void {
  program
    .command('inspect')
    .description("Show a customer's tier, R/F/M, pending timers and headroom from the Redis state")
    .argument('<customerId>', 'the customer to look up')
    .option('--config <file>', 'YAML/JSON config file (environment variables override it)')
    .option('--json', 'print the inspection as JSON')
    .action(async (customerId: string, opts: InspectOptions) => {
      await inspect(customerId, opts);
    });
}

async function inspect(customerId: string, opts: InspectOptions): Promise<void> {
  const config = loadStateConfig(process.env, opts.config);
  const state = await openState(config);
  try {
    const topic = config.topics.transactions;
    const ranking = state.policy.ranking === undefined ? undefined : new RankingStore(state.redis, config.keyPrefix);
    const boundariesOf = ranking === undefined ? undefined : boundariesInForce({ ranking, store: state.store, policy: state.policy, clock: config.clock, topic });
    const found = state.partitions.length === 0 ? null : await inspectCustomer({ store: state.store, policy: state.policy, clock: config.clock, topic, customerId, ...(boundariesOf === undefined ? {} : { boundariesOf }) });
    if (found === null) {
      console.error(`pyramid inspect: no state for customer ${customerId} under key prefix ${config.keyPrefix} (topic ${topic})`);
      process.exitCode = 2;
      return;
    }
    if (opts.json === true) {
      console.log(JSON.stringify(found, null, 2));
      return;
    }
    const money = (minor: number | null): string => (minor === null ? '-' : `${formatMinor(minor, state.policy.minorUnitDigits)} ${state.policy.currency}`);
    const time = (ms: number | null): string => (ms === null ? '-' : new Date(ms).toISOString());
    const days = (ms: number | null): string => (ms === null ? 'never bought' : `${(ms / 86_400_000).toFixed(1)} days`);
    const rule = found.rule.kind === 'tier' ? `tier ${found.rule.tier}` : found.rule.kind;
    const lines = [
      `customer        ${found.customerId}  (partition ${found.partition} of ${topic})`,
      `tier            ${found.tier} since ${time(found.tierSince)}  (change #${found.seq})`,
      `evaluated at    ${time(found.now)}: raw tier ${found.rawTier} by rule ${rule}`,
      `monetary        ${money(found.monetary)}  (rolling ${state.policy.windowMs / 86_400_000} d)`,
      `frequency       ${found.frequency}`,
      `recency         ${days(found.recencyMs)}  (last purchase ${time(found.lastPurchaseAt)})`,
      `avg daily bal.  ${money(found.averageDailyBalance)}`,
      `profit          ${money(found.profit)}`,
      `pending         ${found.pendingDowngradeSince === null ? 'no downgrade pending' : `downgrade pending since ${time(found.pendingDowngradeSince)}`}`,
      `next change at  ${found.dueAt === null ? 'none scheduled' : time(found.dueAt)}`,
      `signals         ${found.signalSeq} emitted${found.nearUpgradeAt === null ? '' : `, last NEAR_UPGRADE ${time(found.nearUpgradeAt)}`}`,
      `headroom        up: ${money(found.headroom.toNextTierUp)}   down: ${money(found.headroom.toDowngrade)}`,
      `balance room    up: ${money(found.headroom.averageDailyBalanceToNextTierUp ?? null)}   down: ${money(found.headroom.averageDailyBalanceToDowngrade ?? null)}`,
      `buckets         ${found.buckets.length}`,
    ];
    console.log(lines.join('\n'));
  } finally {
    state.close();
  }
}
