import type { Command } from 'commander';
import { loadConfig } from '../../config/load.js';
import { configSchema } from '../../config/schema.js';
import { PyramidError } from '../../errors.js';
import { Instrumentation } from '../../instrumentation.js';
import { createKafkaClient } from '../../kafka/client.js';
import { createLogger } from '../../logger.js';
import { createCensus } from '../../pipeline/census.js';
import { stuckBarrier, type StuckBarrier } from '../../pipeline/relative-boundaries.js';
import { createScorer, type Scorer } from '../../pipeline/scorer.js';
import { policyContentHash } from '../../policy/content-hash.js';
import { RankingStore } from '../../state/ranking.js';
import { formatPyramid } from '../format.js';
import { nextStopSignal } from '../signals.js';
import { openState } from '../state-access.js';

interface ReplayOptions {
  config?: string;
  prefix: string;
  outputTopic?: string;
  progressEvery: number;
  resume?: boolean;
}

/**
 * `pyramid replay --prefix <fresh>`: rebuild the state from the start of the input topic in
 * event-clock mode (so timers fire at event time and the result depends only on the input and
 * the policy) into a fresh key prefix, under a group of its own, publishing tier changes to a
 * topic of their own. Stops once every partition reached the end offsets seen at start, printing
 * progress on the way and the resulting pyramid at the end. The live deployment is not touched.
 * With relative tiers it stops where the boundary barrier stops (README, "Relative tiers"): the
 * records after the last instant every partition reaches wait for input that is not there.
 */
export function register(program: Command): void {
  program
    .command('replay')
    .description('Rebuild state from the start of the transactions topic (event clock) into a fresh key prefix')
    .requiredOption('--prefix <prefix>', 'the fresh Redis key prefix to rebuild into (must hold no state)')
    .option('--output-topic <topic>', 'where the replay publishes its tier changes (default <tier-changes topic>-replay-<prefix>)')
    .option('--config <file>', 'YAML/JSON config file (environment variables override it)')
    .option('--resume', 'continue an interrupted replay into the same prefix')
    .option('--progress-every <seconds>', 'progress line interval', (v) => Number(v), 2)
    .action(async (opts: ReplayOptions) => {
      await replay(opts);
    });
}

/** Relative tiers on the event clock: where the boundary barrier stopped with the input at hand; null otherwise. */
async function barrierHeld(scorer: Scorer, prefix: string, topic: string, partitions: number[], drained: ReadonlySet<number>): Promise<StuckBarrier | null> {
  const everyMs = scorer.policy.ranking?.everyMs;
  if (everyMs === undefined) return null;
  const ranking = new RankingStore(scorer.store.redis, prefix);
  return stuckBarrier({ store: scorer.store, ranking, topic, partitions, policyHash: policyContentHash(scorer.policy), everyMs, drained });
}

async function replay(opts: ReplayOptions): Promise<void> {
  const live = loadConfig(process.env, opts.config);
  const config = configSchema.parse({
    ...live,
    clock: 'event',
    // Relative tiers: every boundary instant waits for a coordinator tick, so a replay ticks at least every second.
    ranking: { ...live.ranking, interval: Math.min(live.ranking.interval, 1000) },
    keyPrefix: opts.prefix,
    groupId: `${live.groupId}-replay-${opts.prefix}`,
    topics: {
      transactions: live.topics.transactions,
      tierChanges: opts.outputTopic ?? `${live.topics.tierChanges}-replay-${opts.prefix}`,
      signals: `${live.topics.signals}-replay-${opts.prefix}`,
      dlq: `${live.topics.dlq}-replay-${opts.prefix}`,
      // The co-partitioned balances are part of the state: replayed with the transactions.
      ...(live.topics.balances === undefined ? {} : { balances: live.topics.balances }),
    },
  });
  const logger = createLogger({ level: config.logLevel, name: 'pyramid-replay', destination: process.stderr });
  const existing = await openState(config);
  existing.close();
  if (existing.partitions.length > 0 && opts.resume !== true) {
    throw new PyramidError('CONFIG_INVALID', `key prefix ${opts.prefix} already holds state for ${config.topics.transactions}; choose a fresh --prefix (or --resume an interrupted replay)`);
  }

  const admin = createKafkaClient(config.kafka).createAdmin();
  await admin.connect();
  const balancesTopic = config.topics.balances;
  const [ends, balanceEnds] = await Promise.all([admin.topicOffsets(config.topics.transactions), balancesTopic === undefined ? [] : admin.topicOffsets(balancesTopic)]).finally(() => admin.disconnect());
  const total = [...ends, ...balanceEnds].reduce((sum, o) => sum + Number(BigInt(o.high) - BigInt(o.low)), 0);
  const inputs = balancesTopic === undefined ? config.topics.transactions : `${config.topics.transactions} and ${balancesTopic}`;
  console.log(`pyramid replay: ${total} records in ${ends.length} partitions of ${inputs} -> prefix ${opts.prefix}, tier changes to ${config.topics.tierChanges}`);

  const scorer = createScorer(config, { logger, instrumentation: new Instrumentation() });
  const stop = nextStopSignal();
  const started = Date.now();
  let interrupted = false;
  try {
    await scorer.start();
    for (;;) {
      let done = 0;
      let finished = true;
      const drained = new Set<number>();
      const progress = (partition: number, next: bigint, low: string, high: string): void => {
        const from = BigInt(low);
        done += Number((next < from ? from : next > BigInt(high) ? BigInt(high) : next) - from);
        if (next < BigInt(high)) finished = false;
        else drained.add(partition);
      };
      for (const { partition, low, high } of ends) progress(partition, BigInt(await scorer.nextOffset(partition)), low, high);
      for (const { partition, low, high } of balanceEnds) progress(partition, BigInt((await scorer.nextBalanceOffset(partition)) ?? high), low, high);
      const seconds = (Date.now() - started) / 1000;
      console.log(`replay: ${done}/${total} records (${total === 0 ? 100 : ((100 * done) / total).toFixed(1)}%), ${Math.round(done / Math.max(seconds, 0.001))} records/s`);
      if (finished) break;
      const stuck = await barrierHeld(scorer, config.keyPrefix, config.topics.transactions, ends.map((e) => e.partition), drained);
      if (stuck !== null) {
        const at = stuck.instant === null ? 'the first boundary instant' : `the boundary instant ${new Date(stuck.instant).toISOString()}`;
        console.log(`pyramid replay: the boundary barrier holds at ${at}: partitions ${stuck.waitingOn.join(', ')} have no record at or after it, so the ${total - done} records at or after it in partitions ${stuck.holding.join(', ')} wait for more input (run again with --resume once there is)`);
        break;
      }
      const tick = new Promise<'tick'>((r) => setTimeout(() => r('tick'), opts.progressEvery * 1000));
      const outcome = await Promise.race([tick, stop.signal, scorer.done.then(() => 'tick' as const)]);
      if (outcome !== 'tick') {
        interrupted = true;
        break;
      }
    }
    await scorer.stop();
  } finally {
    stop.dispose();
  }
  if (interrupted) {
    console.log('pyramid replay: interrupted; run it again with the same --prefix and --resume to continue where it stopped');
    return;
  }
  const state = await openState(config);
  try {
    const census = await createCensus({ store: state.store, policy: state.policy, topic: config.topics.transactions, clock: 'event', partitions: () => state.partitions }).census();
    console.log(formatPyramid(census));
  } finally {
    state.close();
  }
  console.log(`pyramid replay: done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}
