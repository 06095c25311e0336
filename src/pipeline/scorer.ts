import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { PyramidConfig } from '../config/schema.js';
import { isPyramidError, PyramidError } from '../errors.js';
import { Instrumentation } from '../instrumentation.js';
import type { PyramidAdmin } from '../kafka/admin.js';
import { createKafkaClient } from '../kafka/client.js';
import type { AssignmentChange, PyramidConsumer } from '../kafka/consumer.js';
import type { PartitionLog, PartitionLogReader } from '../kafka/partition-logs.js';
import type { PyramidProducer } from '../kafka/producer.js';
import { createSchemaRegistryClient, type SchemaRegistryClient } from '../kafka/schema-registry.js';
import type { TopicPartition } from '../kafka/types.js';
import { silentLogger, type Logger } from '../logger.js';
import { kafkaGroupProbe, redisProbe, registryProbe, type HealthProbe } from './readiness-probes.js';
import { startLagMonitor, type LagMonitor } from './lag-monitor.js';
import { readFile } from 'node:fs/promises';
import { policyContentHash } from '../policy/content-hash.js';
import { readGroupPolicy } from '../state/group-policy.js';
import { checkPolicyInForce } from './policy-in-force.js';
import { loadPolicyFile } from '../policy/load.js';
import type { CompiledPolicy } from '../policy/types.js';
import { StateStore } from '../state/store.js';
import { createCensus, type PyramidCensus } from './census.js';
import { CacheBudget } from './customer-cache.js';
import { createDecoder } from './decode.js';
import { createDlqPublisher } from './dlq-publisher.js';
import { createLagSource } from './lag-source.js';
import { createOutboxRelay, DEFAULT_RELAY_CHUNK, type OutboxRelay } from './outbox-relay.js';
import { OwnedPartition } from './owned-partition.js';
import { Ownership } from './ownership.js';
import { createBatchHandler, DEFAULT_APPLY_CHUNK } from './partition-batch.js';
import { recoverPartition } from './partition-recovery.js';
import { PartitionPositions } from './partition-positions.js';
import { connectRedis } from './redis-connection.js';
import { DEFAULT_RETRY, retrying, type RetryOptions } from './retry.js';
import { StoppedPartitions } from './stopped-partitions.js';
import { startPolicyReevaluator, type PolicyReevaluator } from './policy-reevaluator.js';
import { createPolicyWatcher, type PolicyInUse, type PolicyWatcher } from './policy-watcher.js';
import { startBoundaryReevaluator, type BoundaryReevaluator } from './boundary-reevaluator.js';
import { boundaryRecords, startBoundaryCoordinator, watchBoundaries, type BoundaryCoordinator, type BoundaryWatcher } from './relative-boundaries.js';
import { RankingStore } from '../state/ranking.js';
import { startSweeper, type Sweeper } from './sweeper.js';
import { createAvroSignalEncoder, createJsonSignalEncoder, type SignalEncoder } from './signal-encoder.js';
import { createAvroTierChangeEncoder, createJsonTierChangeEncoder, type TierChangeEncoder } from './tier-change-encoder.js';
import { checkIncarnation, type IncarnationVerdict } from './topic-incarnation.js';
import { createBalanceValidator, createTransactionValidator } from './validate.js';
import { BALANCE_READER_CONTRACT } from './decode-schemas.js';

/** Knobs tests, the demo and the bench turn; production uses the defaults. */
export interface ScorerTuning {
  /** Wall-clock sweeper interval; default 1000 ms (unused in event-clock mode). */
  sweepIntervalMs: number;
  /** Lag measurement interval; default 5000 ms. */
  lagIntervalMs: number;
  /** Backoff for retriable failures. */
  retry: RetryOptions;
  /** Outbox entries per produce request; default {@link DEFAULT_RELAY_CHUNK}. */
  relayChunk: number;
  /** Records per engine call and commit; default {@link DEFAULT_APPLY_CHUNK}. */
  applyChunk: number;
  /** How often the policy in force for the key prefix is read, to pick up `pyramid policy apply`; default 2000 ms. */
  policyPollMs: number;
  /** Pause between two passes of the background re-evaluation after a switch; default 1000 ms. */
  reevaluationIntervalMs: number;
}

export interface ScorerOptions {
  logger?: Logger;
  /** Where metrics and the status page listen; a fresh one when omitted. */
  instrumentation?: Instrumentation;
  tuning?: Partial<ScorerTuning>;
  /** An already compiled policy (tests); otherwise `config.policyFile` is loaded. */
  policy?: CompiledPolicy;
}

/** A running (or startable) scorer: the consumer group member that runs pyramid's pipeline. */
export interface Scorer {
  readonly instrumentation: Instrumentation;
  /** Connects everything, joins the group and starts consuming. Resolves once the loop runs. */
  start(): Promise<void>;
  /**
   * Graceful stop: stop fetching, finish the batches in hand, publish the outboxes of owned
   * partitions, commit, leave the group, disconnect. Idempotent.
   */
  stop(): Promise<void>;
  /** Settles when the scorer stopped: resolves after `stop()`, rejects on a fatal error. */
  readonly done: Promise<void>;
  /** Partitions of the input topic this instance owns now. */
  assignment(): TopicPartition[];
  /** Stop fetching (batches in hand finish); lag keeps being measured. */
  pause(): void;
  resume(): void;
  /**
   * The next offset this scorer will process in a partition of the input topic: the applied
   * watermark + 1, or further when records after it were dead-lettered by this process (for a
   * partition it does not own: the Redis watermark + 1).
   */
  nextOffset(partition: number): Promise<string>;
  /** The same for partition `partition` of the balances topic; undefined without one. */
  nextBalanceOffset(partition: number): Promise<string | undefined>;
  /** Measure lag now and emit `consumer.lag` per owned partition. */
  refreshLag(): Promise<void>;
  /** One wall-clock sweep of the owned partitions now (no-op in event-clock mode). */
  sweepNow(): Promise<void>;
  /**
   * Readiness probes for src/ops: Kafka group membership, Redis, every assigned partition able to
   * apply (none stopped), and the registry when used.
   */
  probes(): HealthProbe[];
  /** Customers and rolling revenue per tier, from Redis (see createCensus). */
  census(): Promise<PyramidCensus>;
  /** Available after start(). */
  readonly store: StateStore;
  /** The policy scored with now: the one started with, or the last one applied since (picked up live). */
  readonly policy: CompiledPolicy;
}

interface Running {
  redis: Redis;
  store: StateStore;
  /** The policy to score with: the one started with, then each one applied for the key prefix (picked up live). */
  policy: PolicyWatcher;
  consumer: PyramidConsumer;
  producer: PyramidProducer;
  admin: PyramidAdmin;
  /** Log starts and first records of the input topic: its incarnation (topic-incarnation.ts). */
  logs: PartitionLogReader;
  /** The input topic's partition count at start-up; every assignment re-checks it (the balances topic's too). */
  partitionCount: number;
  relay: OutboxRelay;
  sweeper: Sweeper | undefined;
  reevaluator: PolicyReevaluator | undefined;
  /** Policies with relative tiers: the published boundaries, their coordinator and the BOUNDARY pass. */
  ranking: { store: RankingStore; watcher: BoundaryWatcher; coordinator?: BoundaryCoordinator; reevaluator?: BoundaryReevaluator } | undefined;
  lag: LagMonitor;
  census: () => Promise<PyramidCensus>;
  groupProbe: HealthProbe & { close(): void };
  registry: SchemaRegistryClient | undefined;
}

/**
 * A policy testing averageDailyBalance needs balances: without a balances topic every customer's
 * average stays 0, so such a condition would be accepted and never act. Refused, naming the field.
 */
function refuseBalanceRulesWithoutBalances(policy: CompiledPolicy): void {
  const index = policy.tiers.findIndex((tier) => tier.conditions.some((c) => c.metric === 'averageDailyBalance'));
  if (index < 0) return;
  throw new PyramidError(
    'CONFIG_INVALID',
    `policy ${policy.name} tests the average daily balance (tiers[${index}].when.averageDailyBalance, tier "${policy.tiers[index]?.name ?? ''}") but no balances topic is configured: set PYRAMID_TOPIC_BALANCES (topics.balances)`,
  );
}

/**
 * Relative tiers on the event clock need `ranking.every` (the boundary instants), and one input:
 * the barrier stops the records of one topic-partition at each instant, and the records of a
 * co-partitioned balances partition have no order relative to them that a replay would repeat.
 */
function refuseEventClockWithoutInstants(policy: CompiledPolicy, config: PyramidConfig): void {
  if (policy.ranking === undefined || config.clock !== 'event') return;
  if (policy.ranking.everyMs === undefined) {
    throw new PyramidError(
      'POLICY_INVALID',
      `policy ${config.policyFile}: ranking.every: relative tiers on the event clock (PYRAMID_CLOCK=event) need the boundary instants, e.g. ranking: { every: 1d }: the boundaries are recomputed at each multiple of it once every partition's event time has passed it`,
      { details: { fields: ['ranking.every'] } },
    );
  }
  if (config.topics.balances !== undefined) {
    throw new PyramidError(
      'CONFIG_INVALID',
      `PYRAMID_TOPIC_BALANCES: relative tiers on the event clock take one input topic in this version (the boundary barrier orders the records of one topic-partition); unset the balances topic, or use PYRAMID_CLOCK=wall`,
      { details: { fields: ['topics.balances'] } },
    );
  }
}

/** Longest a graceful stop waits for Redis/Kafka before giving up on the remaining steps. */
const STOP_GRACE_MS = 15_000;

/**
 * Builds the scorer (docs/ARCHITECTURE.md, "The flow") from a validated configuration. `pyramid run`, `pyramid demo`
 * and the end-to-end tests all use it.
 */
export function createScorer(config: PyramidConfig, options: ScorerOptions = {}): Scorer {
  const logger = options.logger ?? silentLogger;
  const instrumentation = options.instrumentation ?? new Instrumentation();
  const tuning: ScorerTuning = {
    sweepIntervalMs: 1000,
    lagIntervalMs: 5000,
    retry: DEFAULT_RETRY,
    relayChunk: DEFAULT_RELAY_CHUNK,
    applyChunk: DEFAULT_APPLY_CHUNK,
    policyPollMs: 2000,
    reevaluationIntervalMs: 1000,
    ...options.tuning,
  };
  const inputTopic = config.topics.transactions;
  /** The co-partitioned balances topic, when configured: partition p feeds the state of partition p. */
  const balancesTopic = config.topics.balances;
  const positions = new PartitionPositions();
  const ownership = new Ownership();
  const budget = new CacheBudget(config.cacheMaxCustomers);
  const stops = new StoppedPartitions(instrumentation);
  let running: Running | undefined;
  let stopping = false;
  let aborted = false;
  let userPaused = false;
  let stopPromise: Promise<void> | undefined;
  const pendingAssignments = new Set<Promise<void>>();
  let handler: ReturnType<typeof createBatchHandler> | undefined;
  let settle: { resolve: () => void; reject: (err: unknown) => void } = { resolve: () => undefined, reject: () => undefined };
  const done = new Promise<void>((resolve, reject) => {
    settle = { resolve, reject };
  });
  // A caller that never awaits `done` must not get an unhandled rejection.
  done.catch(() => undefined);

  const need = (): Running => {
    if (running === undefined) throw new PyramidError('CONFIG_INVALID', 'the scorer is not started');
    return running;
  };
  const owned = (): TopicPartition[] => ownership.owned().map((p) => ({ topic: p.topic, partition: p.partition }));
  /** The topic-partitions feeding these state partitions: each, and partition p of the balances topic. */
  const inputsOf = (partitions: readonly TopicPartition[]): TopicPartition[] =>
    balancesTopic === undefined ? [...partitions] : partitions.flatMap((tp) => [tp, { topic: balancesTopic, partition: tp.partition }]);
  const stillOwned = (tp: TopicPartition, gen: number): boolean => !aborted && ownership.isMine(tp, gen);

  /** The next offset to process: past the applied watermark and past anything dead-lettered here. */
  async function nextOffset(store: StateStore, topic: string, partition: number): Promise<string> {
    const mine = ownership.get({ topic, partition });
    let applied: bigint;
    if (mine !== undefined) {
      applied = mine.nextOffset ?? 0n;
    } else {
      const meta = await store.readMeta(topic, partition);
      applied = meta?.lastOffset == null ? 0n : BigInt(meta.lastOffset) + 1n;
    }
    const inProcess = positions.next(topic, partition) ?? 0n;
    return (applied > inProcess ? applied : inProcess).toString();
  }

  /** {@link nextOffset} for the balances partition feeding state partition `partition`: its own watermark. */
  async function nextBalanceOffset(store: StateStore, partition: number): Promise<string | undefined> {
    if (balancesTopic === undefined) return undefined;
    const mine = ownership.get({ topic: inputTopic, partition });
    let applied: bigint;
    if (mine !== undefined) {
      applied = mine.nextBalanceOffset ?? 0n;
    } else {
      const meta = await store.readMeta(inputTopic, partition);
      applied = meta?.balanceLastOffset == null ? 0n : BigInt(meta.balanceLastOffset) + 1n;
    }
    const inProcess = positions.next(balancesTopic, partition) ?? 0n;
    return (applied > inProcess ? applied : inProcess).toString();
  }

  async function flushWithRetry(r: Running, tp: TopicPartition, keepGoing: () => boolean): Promise<void> {
    try {
      await retrying(() => r.relay.flush(tp.topic, tp.partition, keepGoing), { shouldStop: () => !keepGoing(), options: tuning.retry });
    } catch (err) {
      logger.error({ err, ...tp }, 'outbox flush failed');
    }
  }

  /** A scorer that cannot run on the stored state (layout, policy) stops, saying why. */
  function fail(error: unknown): void {
    logger.error({ err: error }, 'the scorer cannot run on this state; stopping');
    aborted = true;
    void shutdown().finally(() => settle.reject(error));
  }

  /**
   * Claim each newly assigned partition in Redis (fencing any earlier owner), seek it to its
   * watermark + 1, then resume it and flush what a previous owner left in its outbox.
   */
  async function prepareAssigned(r: Running, gen: number, partitions: TopicPartition[]): Promise<void> {
    const topicNow = await retrying(() => readTopicNow(r), {
      shouldStop: () => gen !== ownership.currentGeneration || aborted,
      options: tuning.retry,
      onRetry: (err) => logger.warn({ err }, 'cannot read the input topic\'s offsets yet; retrying'),
    });
    if (!topicNow.done || gen !== ownership.currentGeneration) return;
    const { count, logs, committed, balanceCount, balanceLogs } = topicNow.value;
    if (balancesTopic !== undefined && balanceCount !== r.partitionCount) {
      throw new PyramidError('TOPIC_INCARNATION_MISMATCH', coPartitioningMessage(balanceCount, r.partitionCount, 'now'), {
        details: { topic: balancesTopic, stored: r.partitionCount, now: balanceCount },
      });
    }
    if (count !== r.partitionCount) {
      throw new PyramidError(
        'TOPIC_INCARNATION_MISMATCH',
        `the input topic ${inputTopic} has ${count ?? 'no'} partitions now, ${r.partitionCount} when this scorer started (the topic was re-created): the partition count is part of the state layout; rebuild with \`pyramid replay --prefix <fresh prefix>\` and run the scorers on that prefix (PYRAMID_KEY_PREFIX)`,
        { details: { topic: inputTopic, stored: r.partitionCount, now: count } },
      );
    }
    await Promise.all(
      partitions.map(async (tp) => {
        const log = logs.find((l) => l.partition === tp.partition);
        if (log === undefined) throw new PyramidError('KAFKA_UNAVAILABLE', `the broker reported no log for partition ${tp.partition} of ${tp.topic}`);
        let verdict: IncarnationVerdict;
        try {
          verdict = checkIncarnation({ topic: tp.topic, partition: tp.partition, stored: await r.store.readMeta(tp.topic, tp.partition), log, committedOffset: committed.get(tp.partition) ?? null });
        } catch (err) {
          if (!isPyramidError(err, 'KAFKA_OFFSETS_GONE')) throw err;
          // This partition stays paused and unowned; the others go on.
          logger.error({ err, ...tp }, 'partition stopped: Kafka no longer holds the offsets its state needs');
          stops.stop(tp, err);
          return;
        }
        const inUse = r.policy.current();
        const partition = new OwnedPartition({
          store: r.store,
          topic: tp.topic,
          partition: tp.partition,
          policy: inUse.policy,
          policyHash: inUse.hash,
          policyInForce: true,
          clock: config.clock,
          dedupeHorizonMs: config.dedupeHorizon ?? null,
          budget,
          logger,
          instrumentation,
          ...(r.ranking === undefined ? {} : { boundaries: r.ranking.watcher }),
        });
        // The policy in force is read again right before the claim: a partition is switched only
        // forward, to the policy applied last (the claim refuses, retriably, when that moved on).
        const claimed = await retrying(async () => {
          const latest = await r.policy.refresh();
          partition.switchPolicy(latest.policy, latest.hash);
          await partition.claim();
        }, {
          shouldStop: () => gen !== ownership.currentGeneration || aborted,
          options: tuning.retry,
          onRetry: (err) => logger.warn({ err, ...tp }, 'cannot claim the partition yet; retrying'),
        });
        if (!claimed.done || gen !== ownership.currentGeneration) return;
        if (verdict.record !== null) await r.store.recordIncarnation(tp.topic, tp.partition, verdict.record);
        ownership.adopt(partition);
        // A policy picked up while the claim ran: the switch of the owned partitions missed this one.
        const latest = r.policy.current();
        partition.switchPolicy(latest.policy, latest.hash);
        instrumentation.emit('policy.reevaluation', { ...tp, ...partition.policyStatus });
        // State that applied nothing starts at the log start: the group's committed offset would
        // skip what lost state had applied. Always sought: a batch handed back before the
        // partition was adopted left kafkajs's position beyond it.
        const next = partition.nextOffset ?? verdict.startAt;
        positions.reset(tp.topic, tp.partition, next);
        if (next !== undefined) r.consumer.seek(tp, next.toString());
        if (balancesTopic !== undefined) {
          // Partition p of the balances topic resumes from its own watermark in the same meta.
          const balances = { topic: balancesTopic, partition: tp.partition };
          const balanceNext = partition.nextBalanceOffset ?? BigInt(balanceLogs.find((l) => l.partition === tp.partition)?.logStartOffset ?? 0);
          positions.reset(balances.topic, balances.partition, balanceNext);
          r.consumer.seek(balances, balanceNext.toString());
        }
      }),
    );
    if (gen !== ownership.currentGeneration) return;
    const applying = partitions.filter((tp) => !stops.has(tp));
    const fetching = inputsOf(applying);
    if (!userPaused && !stopping && fetching.length > 0) r.consumer.resume(fetching);
    // What a previous owner applied but did not get to publish.
    await Promise.all(applying.map((tp) => flushWithRetry(r, tp, () => stillOwned(tp, gen))));
  }

  /**
   * A policy applied while the scorer runs: every owned partition switches at its next commit
   * (between two of its batches, sweeps or re-evaluation steps, never inside one).
   */
  async function switchOwnedPartitions(next: PolicyInUse): Promise<void> {
    await Promise.all(
      ownership.owned().map((owned) =>
        ownership.exclusive({ topic: owned.topic, partition: owned.partition }, async () => {
          owned.switchPolicy(next.policy, next.hash);
          instrumentation.emit('policy.reevaluation', { topic: owned.topic, partition: owned.partition, ...owned.policyStatus });
        }),
      ),
    );
  }

  /** Partitions re-read after a Redis restart all ask at once: they share one read of the logs. */
  let logsReading: Promise<PartitionLog[]> | undefined;

  /** One input partition's log as Kafka holds it now (checked before seeking back after a resync). */
  async function readLog(r: Running, tp: TopicPartition): Promise<PartitionLog> {
    logsReading ??= r.logs.read(tp.topic).finally(() => {
      logsReading = undefined;
    });
    const log = (await logsReading).find((l) => l.partition === tp.partition);
    if (log === undefined) throw new PyramidError('KAFKA_UNAVAILABLE', `the broker reported no log for partition ${tp.partition} of ${tp.topic}`, { retriable: true });
    return log;
  }

  /** Kafka lost the offsets a partition needs mid-run: it stays paused and unowned, as at a claim. */
  function stopPartition(r: Running, tp: TopicPartition, error: PyramidError): void {
    r.consumer.pause(inputsOf([tp]));
    ownership.revoke([tp]);
    positions.forget(tp.topic, tp.partition);
    stops.stop(tp, error);
  }

  /**
   * The input topic as Kafka holds it now: partition count, log starts, the group's committed
   * offsets; and the balances topic's partition count and log starts when one is configured.
   */
  async function readTopicNow(r: Running): Promise<{
    count: number | null;
    logs: PartitionLog[];
    committed: Map<number, number>;
    balanceCount: number | null;
    balanceLogs: PartitionLog[];
  }> {
    const count = await r.admin.partitionCount(inputTopic);
    const logs = count === null ? [] : await r.logs.read(inputTopic);
    const committed = new Map<number, number>();
    for (const { partition, offset } of count === null ? [] : await r.admin.committedOffsets(config.groupId, inputTopic)) {
      if (Number(offset) >= 0) committed.set(partition, Number(offset));
    }
    const balanceCount = balancesTopic === undefined ? null : await r.admin.partitionCount(balancesTopic);
    const balanceLogs = balancesTopic === undefined || balanceCount === null ? [] : await r.logs.read(balancesTopic);
    return { count, logs, committed, balanceCount, balanceLogs };
  }

  /** Why the balances topic cannot feed the state: it is not co-partitioned with the transactions topic. */
  function coPartitioningMessage(balanceCount: number | null, transactionCount: number, when: 'at start-up' | 'now'): string {
    const balances = balanceCount === null ? `does not exist ${when}` : `has ${balanceCount} partition${balanceCount === 1 ? '' : 's'} ${when}`;
    return `the balances topic ${balancesTopic ?? ''} (PYRAMID_TOPIC_BALANCES) ${balances}, the transactions topic ${inputTopic} has ${transactionCount}: the two must be co-partitioned (the same partition count and the same key, customerId), because partition p of both feeds the state of partition p`;
  }

  function onAssignmentChange(r: Running, change: AssignmentChange): void {
    const partitions = change.partitions.filter((tp) => tp.topic === inputTopic);
    // Balances partitions follow the state partition of the same number (co-partitioned assignor).
    const balancePartitions = change.partitions.filter((tp) => tp.topic === balancesTopic);
    ownership.startGeneration(change.generation);
    instrumentation.emit('consumer.rebalance', { groupId: config.groupId, kind: change.kind, partitions: partitions.length, topicPartitions: partitions });
    if (change.kind === 'revoked') {
      for (const tp of [...partitions, ...balancePartitions]) positions.forget(tp.topic, tp.partition);
      ownership.revoke(partitions);
      stops.forget(partitions);
      // After its flush in progress; a partition assigned here again gets a new producer.
      void r.relay.close(partitions).catch((err: unknown) => logger.warn({ err }, 'closing the relay producers of revoked partitions failed'));
      logger.info({ partitions: partitions.map((tp) => tp.partition) }, 'partitions revoked');
      return;
    }
    logger.info({ partitions: partitions.map((tp) => tp.partition), memberId: change.memberId }, 'partitions assigned');
    // Paused until each partition is claimed and sought to its watermark, so no fetch runs from a stale position.
    if (balancePartitions.length > 0) r.consumer.pause(balancePartitions);
    if (partitions.length === 0) return;
    r.consumer.pause(partitions);
    const work = prepareAssigned(r, change.generation, partitions).catch((err: unknown) => {
      if (isPyramidError(err, 'STATE_LAYOUT_MISMATCH') || isPyramidError(err, 'TOPIC_INCARNATION_MISMATCH')) {
        for (const tp of partitions) stops.stop(tp, err);
        fail(err);
      } else {
        logger.error({ err }, 'assignment preparation failed');
      }
    });
    pendingAssignments.add(work);
    void work.finally(() => pendingAssignments.delete(work));
  }

  /**
   * Connects everything; when a step fails, closes what the earlier steps opened (an open Redis
   * connection kept `pyramid run` alive forever after it had reported, say, a missing topic).
   */
  async function connect(): Promise<Running> {
    const opened: Array<() => Promise<void> | void> = [];
    try {
      return await connectSteps(opened);
    } catch (err) {
      for (const close of opened.reverse()) await Promise.resolve().then(close).catch(() => undefined);
      throw err;
    }
  }

  async function connectSteps(opened: Array<() => Promise<void> | void>): Promise<Running> {
    const policy = options.policy ?? (await loadPolicyFile(config.policyFile));
    refuseEventClockWithoutInstants(policy, config);
    const redis = await connectRedis(config.redis);
    opened.push(() => redis.disconnect());
    const kafka = createKafkaClient(config.kafka, { logger: logger.child({ component: 'kafka' }) });
    const admin = kafka.createAdmin();
    opened.push(() => admin.disconnect());
    await admin.connect();
    const partitionCount = await admin.partitionCount(inputTopic);
    if (partitionCount === null) {
      throw new PyramidError('CONFIG_INVALID', `the input topic ${inputTopic} does not exist (PYRAMID_TOPIC_TRANSACTIONS); create it first`);
    }
    if (balancesTopic !== undefined) {
      const balanceCount = await admin.partitionCount(balancesTopic);
      if (balanceCount !== partitionCount) {
        throw new PyramidError('CONFIG_INVALID', coPartitioningMessage(balanceCount, partitionCount, 'at start-up'), {
          details: { balancesTopic, balancePartitions: balanceCount, transactionsTopic: inputTopic, transactionPartitions: partitionCount },
        });
      }
    } else {
      refuseBalanceRulesWithoutBalances(policy);
    }
    await admin.ensureTopics([
      { topic: config.topics.tierChanges, numPartitions: partitionCount },
      { topic: config.topics.signals, numPartitions: partitionCount },
      { topic: config.topics.dlq, numPartitions: partitionCount },
      // Relative tiers: downstream reads the latest boundaries of every tier (keyed by tier).
      ...(policy.ranking === undefined ? [] : [{ topic: config.topics.boundaries, numPartitions: 1, configs: { 'cleanup.policy': 'compact' } }]),
    ]);
    const registry =
      config.registry.url === undefined
        ? undefined
        : createSchemaRegistryClient({ url: config.registry.url, username: config.registry.username, password: config.registry.password });
    const outputFormat = config.outputFormat ?? config.inputFormat;
    let encoder: TierChangeEncoder;
    let signalEncoder: SignalEncoder;
    if (outputFormat === 'avro') {
      if (registry === undefined) throw new PyramidError('CONFIG_INVALID', 'Avro output needs a schema registry (PYRAMID_REGISTRY_URL)');
      encoder = await createAvroTierChangeEncoder(registry, config.topics.tierChanges);
      signalEncoder = await createAvroSignalEncoder(registry, config.topics.signals);
    } else {
      encoder = createJsonTierChangeEncoder();
      signalEncoder = createJsonSignalEncoder();
    }
    const store = new StateStore({ redis, prefix: config.keyPrefix, partitionCount, logger, instrumentation });
    const policyHash = policyContentHash(policy);
    // Once a policy is stored for the prefix, partitions still on the one in force before it are
    // accepted: they switch at their first commit (OwnedPartition policyInForce).
    const policyStored = (await readGroupPolicy(redis, config.keyPrefix)) !== null;
    // Refuse at start-up what every claim would refuse later: state of another layout, partition
    // count or policy.
    await store.checkLayout(inputTopic, { version: policy.version, hash: policyHash }, { acceptOtherPolicyVersions: policyStored });
    // A policy object handed in (tests) has no file text: scorers never compile it from Redis.
    const policyText = options.policy === undefined ? await readFile(config.policyFile, 'utf8') : '';
    await checkPolicyInForce(redis, config.keyPrefix, { version: policy.version, hash: policyHash, content: policyText, source: config.policyFile });
    let ranking: Running['ranking'];
    if (policy.ranking !== undefined) {
      const rankingStore = new RankingStore(redis, config.keyPrefix);
      const watcher = watchBoundaries({ ranking: rankingStore, policyHash, intervalMs: Math.min(1000, config.ranking.interval), logger, instrumentation });
      opened.push(() => watcher.stop());
      await watcher.refresh();
      ranking = { store: rankingStore, watcher };
    }
    const logs = kafka.createPartitionLogReader();
    opened.push(() => logs.disconnect());
    await refuseOtherIncarnation(store, admin, logs);
    // The DLQ's producer; tier changes go through the relay's transactional producers.
    const producer = kafka.createProducer();
    opened.push(() => producer.disconnect());
    await producer.connect();
    const relay = createOutboxRelay({
      store,
      groupId: config.groupId,
      createProducer: (transactionalId) => kafka.createTransactionalProducer({ transactionalId }),
      topic: config.topics.tierChanges,
      encoder,
      signals: { topic: config.topics.signals, encoder: signalEncoder },
      instrumentation,
      logger,
      chunk: tuning.relayChunk,
    });
    opened.push(() => relay.close());
    const consumer = kafka.createConsumer({
      groupId: config.groupId,
      sessionTimeoutMs: config.consumer.sessionTimeout,
      heartbeatIntervalMs: config.consumer.heartbeatInterval,
      rebalanceTimeoutMs: Math.max(config.consumer.sessionTimeout, 10_000),
      maxBytesPerPartition: config.consumer.maxBytesPerPartition,
      partitionsConsumedConcurrently: config.consumer.concurrency,
      // The next batch is fetched while this one is applied, so the round trip to the broker and
      // kafkajs's decoding do not leave Redis idle between fetches.
      readAhead: true,
      // Partition p of the balances topic must go to the member that owns partition p's state.
      coPartitioned: balancesTopic !== undefined,
      instrumentation,
    });
    const watcher = createPolicyWatcher({
      redis,
      prefix: config.keyPrefix,
      initial: { policy, hash: policyHash },
      intervalMs: tuning.policyPollMs,
      onSwitch: (next) => switchOwnedPartitions(next),
      logger,
    });
    // The census counts by the tiers of the policy scored with now; it is kept per policy because
    // it carries the (rarely recomputed) 80/20/30 figures between censuses.
    let censusOf: { policy: CompiledPolicy; census: ReturnType<typeof createCensus> } | undefined;
    const census = (): Promise<PyramidCensus> => {
      const current = watcher.current().policy;
      if (censusOf?.policy !== current) {
        censusOf = {
          policy: current,
          census: createCensus({
            store,
            policy: current,
            topic: inputTopic,
            clock: config.clock,
            partitions: () => Array.from({ length: partitionCount }, (_, i) => i),
            pauseBetweenRoundsMs: 5,
            // The 80/20/30 line of the status page ranks every customer by profit: a scan, so rarely.
            profitConcentrationEveryMs: 5 * 60_000,
          }),
        };
      }
      return censusOf.census.census();
    };
    const lag = startLagMonitor({
      instrumentation,
      logger,
      intervalMs: tuning.lagIntervalMs,
      source: createLagSource({
        admin,
        groupId: config.groupId,
        owned,
        nextOffsetToApply: (topic, partition) => positions.next(topic, partition)?.toString(),
        recordTimestamp: (topic, partition, offset) => positions.timestampAt(topic, partition, offset),
      }),
    });
    return {
      redis,
      store,
      policy: watcher,
      consumer,
      producer,
      admin,
      logs,
      partitionCount,
      relay,
      sweeper: undefined,
      reevaluator: undefined,
      ranking,
      lag,
      census,
      groupProbe: kafkaGroupProbe(instrumentation, { topic: inputTopic, partitionCount, describeGroup: () => admin.describeGroup(config.groupId) }),
      registry,
    };
  }

  /**
   * Refuses at start-up state built from another incarnation of the input topic (what every claim
   * would refuse later). A partition whose needed offsets are gone is left to its claim: it stops
   * alone, and the others still run.
   */
  async function refuseOtherIncarnation(store: StateStore, admin: PyramidAdmin, logs: PartitionLogReader): Promise<void> {
    const committed = new Map<number, number>();
    for (const { partition, offset } of await admin.committedOffsets(config.groupId, inputTopic)) {
      if (Number(offset) >= 0) committed.set(partition, Number(offset));
    }
    for (const log of await logs.read(inputTopic)) {
      try {
        checkIncarnation({ topic: inputTopic, partition: log.partition, stored: await store.readMeta(inputTopic, log.partition), log, committedOffset: committed.get(log.partition) ?? null });
      } catch (err) {
        if (!isPyramidError(err, 'KAFKA_OFFSETS_GONE')) throw err;
      }
    }
  }

  async function start(): Promise<void> {
    if (running !== undefined) return;
    const r = await connect();
    running = r;
    const decoder = createDecoder({ format: config.inputFormat, registry: r.registry });
    const limits = { maxAmountMinor: config.validation.maxAmountMinor, maxFutureSkewMs: config.validation.maxFutureSkew };
    const validate = createTransactionValidator(limits);
    const balances =
      balancesTopic === undefined
        ? undefined
        : {
            topic: balancesTopic,
            decoder: createDecoder({ format: config.inputFormat, registry: r.registry, contract: BALANCE_READER_CONTRACT }),
            validate: createBalanceValidator(limits),
          };
    const producerForDlq = r.producer;
    handler = createBatchHandler({
      decoder,
      validate,
      ...(balances === undefined ? {} : { balances, stateTopic: inputTopic }),
      // A live switch keeps the currency (assertSwitchable): the one started with holds.
      currency: r.policy.current().policy.currency,
      dlq: createDlqPublisher({ producer: producerForDlq, topic: config.topics.dlq, instrumentation }),
      ownership,
      relay: r.relay,
      positions,
      seek: (tp, offset) => r.consumer.seek(tp, offset),
      pause: (tp) => r.consumer.pause(inputsOf([tp])),
      commitOffsets: (offsets) => r.consumer.commitOffsets(offsets),
      readLog: (tp) => readLog(r, tp),
      stopPartition: (tp, error) => stopPartition(r, tp, error),
      aborted: () => aborted,
      stopping: () => stopping,
      instrumentation,
      logger,
      retry: tuning.retry,
      applyChunk: tuning.applyChunk,
    });
    r.consumer.onAssignmentChange((change) => onAssignmentChange(r, change));
    r.consumer.onCrash((error, restarting) => {
      logger.error({ err: error, restarting }, 'consumer crashed');
      if (restarting) return;
      aborted = true;
      void shutdown().finally(() => settle.reject(error));
    });
    await r.consumer.connect();
    await r.consumer.subscribe(balancesTopic === undefined ? [inputTopic] : [inputTopic, balancesTopic], { fromBeginning: true });
    await r.consumer.run(handler);
    if (config.clock === 'wall') {
      r.sweeper = startSweeper({
        ownership,
        relay: r.relay,
        intervalMs: tuning.sweepIntervalMs,
        logger,
        onFenced: (partition, err, stillMine) =>
          recoverPartition(
            partition,
            {
              positions,
              ...(balancesTopic === undefined ? {} : { balancesTopic }),
              seek: (tp, offset) => r.consumer.seek(tp, offset),
              pause: (tp) => r.consumer.pause(inputsOf([tp])),
              readLog: (tp) => readLog(r, tp),
              stopPartition: (tp, error) => stopPartition(r, tp, error),
              instrumentation,
              logger,
              retry: tuning.retry,
              shouldStop: () => !stillMine() || aborted,
            },
            err,
          ),
      });
    }
    r.reevaluator = startPolicyReevaluator({ ownership, relay: r.relay, instrumentation, logger, intervalMs: tuning.reevaluationIntervalMs });
    await r.policy.start();
    if (r.ranking !== undefined) {
      // A policy with relative tiers is never switched live (assertSwitchable), so the coordinator
      // ranks under the policy the scorer started with.
      const ranked = r.policy.current();
      r.ranking.coordinator = startBoundaryCoordinator({
        ranking: r.ranking.store,
        store: r.store,
        topic: inputTopic,
        partitions: Array.from({ length: r.partitionCount }, (_, i) => i),
        policy: ranked.policy,
        policyHash: ranked.hash,
        instance: `${config.groupId}:${process.pid}:${randomUUID()}`,
        intervalMs: config.ranking.interval,
        ...(ranked.policy.ranking?.everyMs === undefined ? {} : { everyMs: ranked.policy.ranking.everyMs }),
        eventClock: config.clock === 'event',
        leaseMs: config.ranking.lease,
        announce: (boundaries) => r.producer.send(config.topics.boundaries, boundaryRecords(ranked.policy, boundaries)),
        instrumentation,
        logger,
      });
      r.ranking.reevaluator = startBoundaryReevaluator({
        ownership,
        relay: r.relay,
        instrumentation,
        logger,
        intervalMs: Math.min(500, config.ranking.interval),
        // Event clock: a partition released from a boundary instant fetches its held records again.
        onReleased: (owned) => {
          if (!userPaused && !stopping) r.consumer.resume(inputsOf([{ topic: owned.topic, partition: owned.partition }]));
        },
      });
    }
    logger.info({ groupId: config.groupId, topic: inputTopic, balancesTopic, clock: config.clock }, 'scorer running');
  }

  async function shutdown(): Promise<void> {
    const r = running;
    if (r === undefined) return;
    stopping = true;
    const mine = owned();
    // The step in progress, named in the warning when the grace runs out: a stop that hangs says where.
    let step = 'pausing the fetches';
    const force = setTimeout(() => {
      aborted = true;
      logger.warn({ step, graceMs: STOP_GRACE_MS }, 'graceful stop is taking longer than its grace; giving up on Redis/Kafka retries');
    }, STOP_GRACE_MS);
    force.unref();
    try {
      // Stop fetching; kafkajs's stop waits for the batches in hand, which finish normally.
      if (mine.length > 0) r.consumer.pause(inputsOf(mine));
      // Finish the batches in hand (and hand back the ones read ahead) while still a member, so
      // they publish and commit.
      step = 'the batches in hand';
      await r.consumer.drain();
      step = 'publishing the changes of the last batches';
      await handler?.publications();
      step = 'the timer sweeper';
      await r.sweeper?.stop();
      step = 'the policy re-evaluation';
      await r.reevaluator?.stop();
      step = 'the policy watcher';
      await r.policy.stop();
      step = 'the ranking coordinator';
      await r.ranking?.coordinator?.stop();
      step = 'the boundary re-evaluation';
      await r.ranking?.reevaluator?.stop();
      r.ranking?.watcher.stop();
      step = 'partition assignments in progress';
      await Promise.allSettled([...pendingAssignments]);
      step = 'the partition chains';
      await ownership.idle();
      step = 'the lag monitor';
      await r.lag.stop();
      // Publish what the last batches and sweeps left in the outboxes, and commit, while still
      // a member: after leaving, a new owner would flush the same entries again.
      // Only partitions still assigned: one lost in a rebalance during the stop is its new
      // owner's to flush (a second flush would only repeat identical event ids downstream).
      const gen = ownership.currentGeneration;
      step = 'flushing the outboxes';
      await Promise.all(mine.map((tp) => flushWithRetry(r, tp, () => stillOwned(tp, gen))));
      const finalOffsets = inputsOf(mine).flatMap((tp) => {
        const next = positions.next(tp.topic, tp.partition);
        return next === undefined ? [] : [{ ...tp, offset: next.toString() }];
      });
      handler?.cancelTrailingCommits();
      step = 'the final offset commit';
      await r.consumer.commitOffsets(finalOffsets).catch((err: unknown) => logger.warn({ err }, 'final offset commit failed (informational)'));
      step = 'closing the relay producers';
      await r.relay.close().catch((err: unknown) => logger.warn({ err }, 'closing the relay producers failed'));
      step = 'stopping the consumer';
      await r.consumer.stop().catch((err: unknown) => logger.warn({ err }, 'consumer stop failed'));
      step = 'leaving the group';
      await r.consumer.disconnect().catch((err: unknown) => logger.warn({ err }, 'consumer disconnect failed'));
      step = 'disconnecting the producer';
      await r.producer.disconnect().catch((err: unknown) => logger.warn({ err }, 'producer disconnect failed'));
      await r.admin.disconnect().catch((err: unknown) => logger.warn({ err }, 'admin disconnect failed'));
      await r.logs.disconnect().catch((err: unknown) => logger.warn({ err }, 'log reader disconnect failed'));
      r.groupProbe.close();
      r.redis.disconnect();
    } finally {
      clearTimeout(force);
    }
  }

  return {
    instrumentation,
    start,
    stop() {
      stopPromise ??= shutdown().then(
        () => settle.resolve(),
        (err: unknown) => {
          settle.reject(err);
          throw err;
        },
      );
      return stopPromise;
    },
    done,
    assignment: owned,
    pause() {
      userPaused = true;
      const mine = inputsOf(owned());
      if (mine.length > 0) running?.consumer.pause(mine);
    },
    resume() {
      userPaused = false;
      const mine = inputsOf(owned());
      if (mine.length > 0) running?.consumer.resume(mine);
    },
    nextOffset: (partition) => nextOffset(need().store, inputTopic, partition),
    nextBalanceOffset: (partition) => nextBalanceOffset(need().store, partition),
    refreshLag: () => need().lag.refresh(),
    sweepNow: async () => {
      await need().sweeper?.sweepOnce();
    },
    probes() {
      const r = need();
      const probes: HealthProbe[] = [r.groupProbe, redisProbe(r.redis), stops.probe()];
      if (r.registry !== undefined && config.registry.url !== undefined) {
        const auth = config.registry.username === undefined ? undefined : { username: config.registry.username, password: config.registry.password ?? '' };
        probes.push(registryProbe({ url: config.registry.url, ...(auth === undefined ? {} : { auth }) }));
      }
      return probes;
    },
    census: () => need().census(),
    get store() {
      return need().store;
    },
    get policy() {
      return need().policy.current().policy;
    },
  };
}
