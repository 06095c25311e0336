import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Instrumentation } from '../instrumentation.js';
import { buildInfo } from './build-info.js';

/** Every pyramid metric starts with this, default process and Node metrics included. */
export const METRIC_PREFIX = 'pyramid_';

/** Label value for `from` on a customer's first classification (Prometheus labels cannot be null). */
export const NO_PREVIOUS_TIER = 'none';

export interface CreateMetricsOptions {
  /** Defaults to a fresh Registry, so several scorers in one process never clash. */
  registry?: Registry;
  /** Default process and Node metrics; on unless a test wants a smaller exposition. */
  collectDefaults?: boolean;
}

/** The metrics of one scorer. */
export interface Metrics {
  registry: Registry;
  /** Stop listening to instrumentation events. The registry keeps its last values. */
  close(): void;
}

// Buckets chosen for where the pipeline actually lives: one Lua call per batch takes
// sub-millisecond to tens of milliseconds; replays make end-to-end latency span hours.
const STAGE_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
const SCRIPT_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];
const BATCH_SIZE_BUCKETS = [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000];
const LATENCY_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 86400];

/**
 * Register every pyramid metric on a registry and keep it current from instrumentation events.
 * This is the only place that knows about prom-client. Labels are topic, partition, outcome,
 * reason, tier, cause, type, stage, script, group, restarting and check: bounded sets, never a customer id.
 */
export function createMetrics(instrumentation: Instrumentation, options: CreateMetricsOptions = {}): Metrics {
  const registry = options.registry ?? new Registry();
  const registers = [registry];
  const p = METRIC_PREFIX;

  new Gauge({
    name: `${p}build_info`,
    help: 'Always 1; labels carry the pyramid version and the Node.js version.',
    labelNames: ['version', 'node_version'],
    registers,
  }).set({ version: buildInfo().version, node_version: buildInfo().nodeVersion }, 1);

  const consumed = new Counter({
    name: `${p}consumer_records_consumed_total`,
    help: 'Records fetched from Kafka and handed to the pipeline.',
    labelNames: ['topic', 'partition'],
    registers,
  });
  const processed = new Counter({
    name: `${p}consumer_records_processed_total`,
    help: 'Records that left the pipeline, by outcome (scored, duplicate, late, dlq, stale).',
    labelNames: ['topic', 'partition', 'outcome'],
    registers,
  });
  const dlq = new Counter({
    name: `${p}consumer_dlq_records_total`,
    help: 'Records sent to the dead-letter topic, by error class.',
    labelNames: ['topic', 'reason'],
    registers,
  });
  const batchSize = new Histogram({
    name: `${p}consumer_batch_size_records`,
    help: 'Records per partition batch.',
    labelNames: ['topic'],
    buckets: BATCH_SIZE_BUCKETS,
    registers,
  });
  const stageDuration = new Histogram({
    name: `${p}consumer_stage_duration_seconds`,
    help: 'Time one partition batch spent in each pipeline stage (decode, validate, apply, publish).',
    labelNames: ['topic', 'stage'],
    buckets: STAGE_BUCKETS,
    registers,
  });
  const endToEnd = new Histogram({
    name: `${p}consumer_end_to_end_latency_seconds`,
    help: 'Now minus event time of each scored record.',
    labelNames: ['topic'],
    buckets: LATENCY_BUCKETS,
    registers,
  });
  const lagMessages = new Gauge({
    name: `${p}consumer_lag_messages`,
    help: 'Log end offset minus the next offset the scorer will apply, per partition: records not applied yet.',
    labelNames: ['topic', 'partition'],
    registers,
  });
  const lagSeconds = new Gauge({
    name: `${p}consumer_lag_seconds`,
    help: 'Age of the oldest record not applied yet, per partition (0 when caught up).',
    labelNames: ['topic', 'partition'],
    registers,
  });
  const committedLagMessages = new Gauge({
    name: `${p}consumer_committed_lag_messages`,
    help: "Log end offset minus the group's committed offset, per partition: Kafka's own view of the lag (kafka-consumer-groups).",
    labelNames: ['topic', 'partition'],
    registers,
  });
  const committedLagSeconds = new Gauge({
    name: `${p}consumer_committed_lag_seconds`,
    help: 'Age of the record at the committed offset, per partition (0 when the commit is at the log end).',
    labelNames: ['topic', 'partition'],
    registers,
  });
  const rebalances = new Counter({
    name: `${p}consumer_rebalances_total`,
    help: 'Partition assignments and revocations seen by this member.',
    labelNames: ['group', 'kind'],
    registers,
  });
  const groupMember = new Gauge({
    name: `${p}consumer_group_member`,
    help: '1 from joining the consumer group until the member leaves, crashes, stops or disconnects, else 0 (a rebalance keeps 1: the member is rejoining).',
    labelNames: ['group'],
    registers,
  });
  const crashes = new Counter({
    name: `${p}consumer_crashes_total`,
    help: 'Consumer crashes, by whether kafkajs restarts the consumer itself (restarting="true": a restart) or it stays down.',
    labelNames: ['group', 'restarting'],
    registers,
  });
  const tierChanges = new Counter({
    name: `${p}tier_changes_total`,
    help: `Tier changes published downstream, by previous tier ("${NO_PREVIOUS_TIER}" on first classification), new tier and cause.`,
    labelNames: ['from', 'to', 'cause'],
    registers,
  });
  const signals = new Counter({
    name: `${p}signals_total`,
    help: 'Signals published on the signals topic, by type (NEAR_UPGRADE, DOWNGRADE_PENDING, DOWNGRADE_CANCELLED) and cause.',
    labelNames: ['type', 'cause'],
    registers,
  });
  const outboxPending = new Gauge({
    name: `${p}outbox_pending_records`,
    help: 'Tier changes and signals written to the partition outbox and not yet published.',
    labelNames: ['topic', 'partition'],
    registers,
  });
  const scriptDuration = new Histogram({
    name: `${p}redis_script_duration_seconds`,
    help: 'Duration of Redis Lua script calls, failed ones included.',
    labelNames: ['script'],
    buckets: SCRIPT_BUCKETS,
    registers,
  });
  const scriptErrors = new Counter({
    name: `${p}redis_script_errors_total`,
    help: 'Redis Lua script calls that failed.',
    labelNames: ['script'],
    registers,
  });
  const tierCustomers = new Gauge({
    name: `${p}tier_customers`,
    help: 'Customers currently in each tier (latest census).',
    labelNames: ['tier'],
    registers,
  });
  const tierRevenue = new Gauge({
    name: `${p}tier_revenue_minor_units`,
    help: 'Rolling-window revenue of the customers in each tier, in minor units of the policy currency (latest census).',
    labelNames: ['tier', 'currency'],
    registers,
  });

  const ready = new Gauge({
    name: `${p}ready`,
    help: '1 while /readyz answers ready (group joined, Redis answering, registry reachable), else 0; evaluated at each scrape.',
    registers,
  });
  const readinessCheck = new Gauge({
    name: `${p}readiness_check`,
    help: 'Each /readyz check at the last evaluation: 1 ok, 0 failing (check: kafka-group, redis, registry, partitions).',
    labelNames: ['check'],
    registers,
  });

  if (options.collectDefaults !== false) collectDefaultMetrics({ register: registry, prefix: p });

  const part = (topic: string, partition: number) => ({ topic, partition: String(partition) });
  const resyncs = new Counter({
    name: `${p}state_resyncs_total`,
    help: 'Times a partition was re-read from Redis because a commit was refused or failed, by reason (lost, commit, owner, format, unknown).',
    labelNames: ['topic', 'partition', 'reason'],
    registers,
  });
  const partitionsStopped = new Gauge({
    name: `${p}partition_stopped`,
    help: 'An assigned partition that does not apply (1) because its state does not fit the topic Kafka holds, by reason (TOPIC_INCARNATION_MISMATCH, KAFKA_OFFSETS_GONE).',
    labelNames: ['topic', 'partition', 'reason'],
    registers,
  });
  const stoppedReasons = new Map<string, string>();
  const reevaluation = new Gauge({
    name: `${p}policy_reevaluation_progress_ratio`,
    help: 'How far the background re-evaluation of every customer under a newly applied policy has come, per partition: 0 just switched, 1 done.',
    labelNames: ['topic', 'partition'],
    registers,
  });
  const rankingEpoch = new Gauge({
    name: `${p}ranking_epoch`,
    help: 'Relative tiers: the latest epoch of boundaries this instance published as coordinator.',
    registers,
  });
  const rankingPopulation = new Gauge({
    name: `${p}ranking_population`,
    help: 'Relative tiers: customers in the ranked population (N) at the latest published epoch.',
    registers,
  });
  const rankingBoundary = new Gauge({
    name: `${p}ranking_boundary_value`,
    help: 'Relative tiers: the boundary value (minor units for monetary, a count for frequency) of each cut at the latest published epoch, by metric and share in basis points; absent while the cut holds no customer.',
    labelNames: ['metric', 'share_bps'],
    registers,
  });
  const rankingRecompute = new Gauge({
    name: `${p}ranking_recompute_seconds`,
    help: 'Relative tiers: how long the latest published recompute of the boundaries took (read every partition, rank, publish).',
    registers,
  });
  const rankingLease = new Gauge({
    name: `${p}ranking_lease_held`,
    help: 'Relative tiers: 1 while this instance holds the coordinator lease, else 0.',
    registers,
  });
  const rankingBarrierInstant = new Gauge({
    name: `${p}ranking_barrier_instant_seconds`,
    help: 'Relative tiers on the event clock: the boundary instant (event time, Unix seconds) the coordinator waits for every partition to reach.',
    registers,
  });
  const rankingBarrierWaiting = new Gauge({
    name: `${p}ranking_barrier_waiting`,
    help: 'Relative tiers on the event clock: 1 for each partition the coordinator\'s barrier waits on (it has no record at or after the instant yet), absent otherwise.',
    labelNames: ['partition'],
    registers,
  });
  const rankingReevaluation = new Gauge({
    name: `${p}ranking_reevaluation_lag_epochs`,
    help: 'Relative tiers: epochs published but not yet re-evaluated (BOUNDARY pass) by this partition: 0 when caught up.',
    labelNames: ['topic', 'partition'],
    registers,
  });
  const claimsShortened = new Counter({
    name: `${p}dedupe_claims_shortened_total`,
    help: 'Dedupe claims that expire before their transaction leaves the window (an opted-in PYRAMID_DEDUPE_HORIZON): copies arriving later would count again.',
    labelNames: ['topic', 'partition'],
    registers,
  });

  const off = [
    instrumentation.on('consumer.batch', (e) => {
      consumed.inc(part(e.topic, e.partition), e.size);
      batchSize.observe({ topic: e.topic }, e.size);
      for (const [stage, seconds] of Object.entries(e.stages)) stageDuration.observe({ topic: e.topic, stage }, seconds);
    }),
    instrumentation.on('consumer.records', (e) => processed.inc({ ...part(e.topic, e.partition), outcome: e.outcome }, e.count)),
    instrumentation.on('consumer.dlq', (e) => dlq.inc({ topic: e.topic, reason: e.reason })),
    instrumentation.on('consumer.end_to_end_latency', (e) => endToEnd.observe({ topic: e.topic }, e.seconds)),
    instrumentation.on('consumer.lag', (e) => {
      lagMessages.set(part(e.topic, e.partition), e.messages);
      lagSeconds.set(part(e.topic, e.partition), e.seconds);
    }),
    instrumentation.on('consumer.committed_lag', (e) => {
      committedLagMessages.set(part(e.topic, e.partition), e.messages);
      committedLagSeconds.set(part(e.topic, e.partition), e.seconds);
    }),
    instrumentation.on('consumer.rebalance', (e) => {
      rebalances.inc({ group: e.groupId, kind: e.kind });
      if (e.kind !== 'revoked') return;
      // A revoked partition's lag now belongs to another member; keeping our last value would
      // double-count it in sum() across instances.
      for (const tp of e.topicPartitions ?? []) {
        lagMessages.remove(part(tp.topic, tp.partition));
        lagSeconds.remove(part(tp.topic, tp.partition));
        committedLagMessages.remove(part(tp.topic, tp.partition));
        committedLagSeconds.remove(part(tp.topic, tp.partition));
        outboxPending.remove(part(tp.topic, tp.partition));
      }
    }),
    instrumentation.on('consumer.group_joined', (e) => groupMember.set({ group: e.groupId }, 1)),
    instrumentation.on('consumer.group_left', (e) => groupMember.set({ group: e.groupId }, 0)),
    instrumentation.on('consumer.crash', (e) => {
      crashes.inc({ group: e.groupId, restarting: String(e.restarting) });
      groupMember.set({ group: e.groupId }, 0);
    }),
    instrumentation.on('tier.change', (e) => tierChanges.inc({ from: e.from ?? NO_PREVIOUS_TIER, to: e.to, cause: e.cause })),
    instrumentation.on('signal.published', (e) => signals.inc({ type: e.type, cause: e.cause })),
    instrumentation.on('outbox.pending', (e) => outboxPending.set(part(e.topic, e.partition), e.pending)),
    instrumentation.on('state.script', (e) => {
      scriptDuration.observe({ script: e.script }, e.seconds);
      if (!e.ok) scriptErrors.inc({ script: e.script });
    }),
    instrumentation.on('state.resync', (e) => resyncs.inc({ topic: e.topic, partition: String(e.partition), reason: e.reason })),
    instrumentation.on('partition.stopped', (e) => {
      const key = `${e.topic}:${e.partition}`;
      const previous = stoppedReasons.get(key);
      if (previous !== undefined) partitionsStopped.remove({ ...part(e.topic, e.partition), reason: previous });
      stoppedReasons.delete(key);
      if (!e.stopped) return;
      stoppedReasons.set(key, e.reason);
      partitionsStopped.set({ ...part(e.topic, e.partition), reason: e.reason }, 1);
    }),
    instrumentation.on('policy.reevaluation', (e) => reevaluation.set(part(e.topic, e.partition), e.of === 0 ? 1 : e.done / e.of)),
    instrumentation.on('ranking.epoch_published', (e) => {
      rankingEpoch.set(e.epoch);
      rankingPopulation.set(e.population);
      rankingRecompute.set(e.seconds);
      rankingBoundary.reset();
      for (const cut of e.cuts) if (cut.value !== null) rankingBoundary.set({ metric: cut.metric, share_bps: String(cut.bps) }, cut.value);
    }),
    instrumentation.on('ranking.lease', (e) => rankingLease.set(e.held ? 1 : 0)),
    instrumentation.on('ranking.barrier', (e) => {
      if (e.instant !== null) rankingBarrierInstant.set(e.instant / 1000);
      rankingBarrierWaiting.reset();
      for (const partition of e.waiting) rankingBarrierWaiting.set({ partition: String(partition) }, 1);
    }),
    instrumentation.on('ranking.reevaluation', (e) => rankingReevaluation.set(part(e.topic, e.partition), Math.max(0, e.latest - e.applied))),
    instrumentation.on('dedupe.claims_shortened', (e) => claimsShortened.inc(part(e.topic, e.partition), e.count)),
    instrumentation.on('health.readiness', (e) => {
      ready.set(e.ok ? 1 : 0);
      for (const check of e.checks) readinessCheck.set({ check: check.name }, check.ok ? 1 : 0);
    }),
    instrumentation.on('pyramid.census', (e) => {
      // A census replaces the previous one: a tier removed by a policy change must disappear.
      tierCustomers.reset();
      tierRevenue.reset();
      for (const t of e.tiers) {
        tierCustomers.set({ tier: t.tier }, t.customers);
        tierRevenue.set({ tier: t.tier, currency: e.currency }, t.revenueMinor);
      }
    }),
  ];

  return {
    registry,
    close() {
      for (const unsubscribe of off) unsubscribe();
    },
  };
}
