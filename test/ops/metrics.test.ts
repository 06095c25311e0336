import { readFileSync } from 'node:fs';
import type { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { Instrumentation } from '../../src/instrumentation.js';
import { createMetrics, type Metrics } from '../../src/ops/metrics.js';

/** Value of one series, or undefined when the series does not exist. */
async function valueOf(registry: Registry, name: string, labels: Record<string, string>): Promise<number | undefined> {
  const metric = registry.getSingleMetric(name);
  if (!metric) throw new Error(`metric ${name} is not registered`);
  const { values } = await metric.get();
  const match = values.find((v) => Object.entries(labels).every(([k, val]) => String(v.labels[k]) === val) && Object.keys(v.labels).length >= Object.keys(labels).length);
  return match?.value;
}

describe('createMetrics', () => {
  const opened: Metrics[] = [];
  const open = (instrumentation: Instrumentation, collectDefaults = false): Metrics => {
    const m = createMetrics(instrumentation, { collectDefaults });
    opened.push(m);
    return m;
  };
  afterEach(() => {
    for (const m of opened.splice(0)) m.close();
  });

  it('counts consumed and processed records by outcome, DLQ by reason, from events only', async () => {
    const bus = new Instrumentation();
    const { registry } = open(bus);
    bus.emit('consumer.batch', { topic: 'tx', partition: 3, size: 7, stages: { decode: 0.001, validate: 0.002, apply: 0.004, publish: 0.03 } });
    for (const [outcome, count] of [['scored', 2], ['scored', 1], ['duplicate', 1], ['late', 1], ['dlq', 2]] as const) bus.emit('consumer.records', { topic: 'tx', partition: 3, outcome, count });
    bus.emit('consumer.dlq', { topic: 'tx', partition: 3, reason: 'DECODE_FAILED' });
    bus.emit('consumer.dlq', { topic: 'tx', partition: 3, reason: 'VALIDATION_FAILED' });

    expect(await valueOf(registry, 'pyramid_consumer_records_consumed_total', { topic: 'tx', partition: '3' })).toBe(7);
    expect(await valueOf(registry, 'pyramid_consumer_records_processed_total', { topic: 'tx', partition: '3', outcome: 'scored' })).toBe(3);
    expect(await valueOf(registry, 'pyramid_consumer_records_processed_total', { topic: 'tx', partition: '3', outcome: 'duplicate' })).toBe(1);
    expect(await valueOf(registry, 'pyramid_consumer_records_processed_total', { topic: 'tx', partition: '3', outcome: 'dlq' })).toBe(2);
    expect(await valueOf(registry, 'pyramid_consumer_dlq_records_total', { topic: 'tx', reason: 'DECODE_FAILED' })).toBe(1);
    expect(await valueOf(registry, 'pyramid_consumer_dlq_records_total', { topic: 'tx', reason: 'VALIDATION_FAILED' })).toBe(1);
  });

  it('observes batch size and every stage in histograms with base units', async () => {
    const bus = new Instrumentation();
    const { registry } = open(bus);
    bus.emit('consumer.batch', { topic: 'tx', partition: 0, size: 40, stages: { decode: 0.001, validate: 0.0002, apply: 0.004, publish: 0.03 } });
    bus.emit('consumer.batch', { topic: 'tx', partition: 1, size: 2, stages: { decode: 0.003, validate: 0.0002, apply: 0.02, publish: 0 } });
    const text = await registry.metrics();
    expect(text).toContain('pyramid_consumer_batch_size_records_count{topic="tx"} 2');
    expect(text).toContain('pyramid_consumer_batch_size_records_sum{topic="tx"} 42');
    expect(text).toContain('pyramid_consumer_batch_size_records_bucket{le="25",topic="tx"} 1');
    for (const stage of ['decode', 'validate', 'apply', 'publish']) {
      expect(text).toContain(`pyramid_consumer_stage_duration_seconds_count{topic="tx",stage="${stage}"} 2`);
    }
    expect(text).toContain('pyramid_consumer_stage_duration_seconds_sum{topic="tx",stage="apply"} 0.024');
    expect(text).toContain('pyramid_consumer_stage_duration_seconds_bucket{le="0.005",topic="tx",stage="apply"} 1');
  });

  it('shows resyncs by reason and the progress of a policy re-evaluation per partition', async () => {
    const bus = new Instrumentation();
    const { registry } = open(bus);
    bus.emit('state.resync', { topic: 'tx', partition: 1, reason: 'lost' });
    bus.emit('policy.reevaluation', { topic: 'tx', partition: 1, done: 16, of: 64, policyVersion: 'v2', switchingFrom: 'v1' });
    expect(await valueOf(registry, 'pyramid_state_resyncs_total', { topic: 'tx', partition: '1', reason: 'lost' })).toBe(1);
    expect(await valueOf(registry, 'pyramid_policy_reevaluation_progress_ratio', { topic: 'tx', partition: '1' })).toBe(0.25);
    bus.emit('policy.reevaluation', { topic: 'tx', partition: 1, done: 64, of: 64, policyVersion: 'v2', switchingFrom: null });
    expect(await valueOf(registry, 'pyramid_policy_reevaluation_progress_ratio', { topic: 'tx', partition: '1' })).toBe(1);
  });

  it('shows the latest published epoch of relative boundaries, the lease and the BOUNDARY pass lag', async () => {
    const bus = new Instrumentation();
    const { registry } = open(bus);
    bus.emit('ranking.lease', { held: true });
    bus.emit('ranking.epoch_published', { epoch: 3, population: 2126, seconds: 0.5, cuts: [{ metric: 'monetary', bps: 100, rank: 21, value: 6_000_000 }, { metric: 'monetary', bps: 500, rank: 106, value: null }] });
    bus.emit('ranking.reevaluation', { topic: 'tx', partition: 2, applied: 1, latest: 3 });
    expect(await valueOf(registry, 'pyramid_ranking_lease_held', {})).toBe(1);
    expect(await valueOf(registry, 'pyramid_ranking_epoch', {})).toBe(3);
    expect(await valueOf(registry, 'pyramid_ranking_population', {})).toBe(2126);
    expect(await valueOf(registry, 'pyramid_ranking_boundary_value', { metric: 'monetary', share_bps: '100' })).toBe(6_000_000);
    expect(await valueOf(registry, 'pyramid_ranking_boundary_value', { metric: 'monetary', share_bps: '500' })).toBeUndefined();
    expect(await valueOf(registry, 'pyramid_ranking_reevaluation_lag_epochs', { topic: 'tx', partition: '2' })).toBe(2);
  });

  it('shows the event-clock barrier: the instant waited for and each partition it waits on, until it is passed', async () => {
    const bus = new Instrumentation();
    const { registry } = open(bus);
    const instant = Date.UTC(2026, 0, 5, 6);
    bus.emit('ranking.barrier', { instant, waiting: [1, 3] });
    expect(await valueOf(registry, 'pyramid_ranking_barrier_instant_seconds', {})).toBe(instant / 1000);
    expect(await valueOf(registry, 'pyramid_ranking_barrier_waiting', { partition: '1' })).toBe(1);
    expect(await valueOf(registry, 'pyramid_ranking_barrier_waiting', { partition: '3' })).toBe(1);
    expect(await valueOf(registry, 'pyramid_ranking_barrier_waiting', { partition: '0' })).toBeUndefined();
    bus.emit('ranking.barrier', { instant, waiting: [] });
    expect(await valueOf(registry, 'pyramid_ranking_barrier_waiting', { partition: '1' })).toBeUndefined();
  });

  it('sets lag per partition in messages and seconds, and drops a revoked partition', async () => {
    const bus = new Instrumentation();
    const { registry } = open(bus);
    bus.emit('consumer.lag', { topic: 'tx', partition: 0, messages: 500, seconds: 12.5 });
    bus.emit('consumer.lag', { topic: 'tx', partition: 1, messages: 500, seconds: 3 });
    bus.emit('outbox.pending', { topic: 'tx', partition: 1, pending: 4 });
    expect(await valueOf(registry, 'pyramid_consumer_lag_messages', { topic: 'tx', partition: '0' })).toBe(500);
    expect(await valueOf(registry, 'pyramid_consumer_lag_seconds', { topic: 'tx', partition: '0' })).toBe(12.5);
    expect(await valueOf(registry, 'pyramid_outbox_pending_records', { topic: 'tx', partition: '1' })).toBe(4);

    bus.emit('consumer.lag', { topic: 'tx', partition: 0, messages: 0, seconds: 0 });
    expect(await valueOf(registry, 'pyramid_consumer_lag_messages', { topic: 'tx', partition: '0' })).toBe(0);

    bus.emit('consumer.rebalance', { groupId: 'g', kind: 'revoked', partitions: 1, topicPartitions: [{ topic: 'tx', partition: 1 }] });
    expect(await valueOf(registry, 'pyramid_consumer_lag_messages', { topic: 'tx', partition: '1' })).toBeUndefined();
    expect(await valueOf(registry, 'pyramid_consumer_lag_seconds', { topic: 'tx', partition: '1' })).toBeUndefined();
    expect(await valueOf(registry, 'pyramid_outbox_pending_records', { topic: 'tx', partition: '1' })).toBeUndefined();
    expect(await valueOf(registry, 'pyramid_consumer_lag_messages', { topic: 'tx', partition: '0' })).toBe(0);
    expect(await valueOf(registry, 'pyramid_consumer_rebalances_total', { group: 'g', kind: 'revoked' })).toBe(1);
  });

  it('counts tier changes by from/to/cause, naming a first classification "none"', async () => {
    const bus = new Instrumentation();
    const { registry } = open(bus);
    bus.emit('tier.change', { from: null, to: 'small', cause: 'TRANSACTION' });
    bus.emit('tier.change', { from: 'small', to: 'medium', cause: 'TRANSACTION', topic: 'tx', partition: 2, effectiveAt: 1_700_000_000_000, policyVersion: '3' });
    bus.emit('tier.change', { from: 'small', to: 'medium', cause: 'TRANSACTION' });
    bus.emit('tier.change', { from: 'medium', to: 'inactive', cause: 'TIME' });
    expect(await valueOf(registry, 'pyramid_tier_changes_total', { from: 'none', to: 'small', cause: 'TRANSACTION' })).toBe(1);
    expect(await valueOf(registry, 'pyramid_tier_changes_total', { from: 'small', to: 'medium', cause: 'TRANSACTION' })).toBe(2);
    expect(await valueOf(registry, 'pyramid_tier_changes_total', { from: 'medium', to: 'inactive', cause: 'TIME' })).toBe(1);
  });

  it('records end-to-end latency, Redis script duration and errors, group membership', async () => {
    const bus = new Instrumentation();
    const { registry } = open(bus);
    bus.emit('consumer.end_to_end_latency', { topic: 'tx', seconds: 0.2 });
    bus.emit('consumer.end_to_end_latency', { topic: 'tx', seconds: 7 });
    bus.emit('state.script', { script: 'applyBatch', seconds: 0.003, ok: true });
    bus.emit('state.script', { script: 'applyBatch', seconds: 0.5, ok: false });
    bus.emit('consumer.group_joined', { groupId: 'g', memberId: 'm-1', partitions: 4 });
    const text = await registry.metrics();
    expect(text).toContain('pyramid_consumer_end_to_end_latency_seconds_count{topic="tx"} 2');
    expect(text).toContain('pyramid_consumer_end_to_end_latency_seconds_bucket{le="0.25",topic="tx"} 1');
    expect(text).toContain('pyramid_redis_script_duration_seconds_count{script="applyBatch"} 2');
    expect(await valueOf(registry, 'pyramid_redis_script_errors_total', { script: 'applyBatch' })).toBe(1);
    expect(await valueOf(registry, 'pyramid_consumer_group_member', { group: 'g' })).toBe(1);
    bus.emit('consumer.group_left', { groupId: 'g', reason: 'crash' });
    expect(await valueOf(registry, 'pyramid_consumer_group_member', { group: 'g' })).toBe(0);
  });

  it('mirrors each readiness evaluation in pyramid_ready and pyramid_readiness_check{check}', async () => {
    const bus = new Instrumentation();
    const { registry } = open(bus);
    bus.emit('health.readiness', { ok: true, checks: [{ name: 'kafka-group', ok: true }, { name: 'redis', ok: true }] });
    expect(await valueOf(registry, 'pyramid_ready', {})).toBe(1);
    bus.emit('health.readiness', { ok: false, checks: [{ name: 'kafka-group', ok: true }, { name: 'redis', ok: false }] });
    expect(await valueOf(registry, 'pyramid_ready', {})).toBe(0);
    expect(await valueOf(registry, 'pyramid_readiness_check', { check: 'redis' })).toBe(0);
    expect(await valueOf(registry, 'pyramid_readiness_check', { check: 'kafka-group' })).toBe(1);
  });

  it('replaces the pyramid gauges with each census, so a removed tier disappears', async () => {
    const bus = new Instrumentation();
    const { registry } = open(bus);
    bus.emit('pyramid.census', {
      currency: 'CNY',
      minorUnitDigits: 2,
      tiers: [
        { tier: 'VIP', rank: 4, customers: 21, revenueMinor: 239_400_000 },
        { tier: 'legacy', rank: 0, customers: 5, revenueMinor: 0 },
      ],
    });
    bus.emit('pyramid.census', { currency: 'CNY', minorUnitDigits: 2, tiers: [{ tier: 'VIP', rank: 4, customers: 22, revenueMinor: 240_000_000 }] });
    expect(await valueOf(registry, 'pyramid_tier_customers', { tier: 'VIP' })).toBe(22);
    expect(await valueOf(registry, 'pyramid_tier_revenue_minor_units', { tier: 'VIP', currency: 'CNY' })).toBe(240_000_000);
    expect(await valueOf(registry, 'pyramid_tier_customers', { tier: 'legacy' })).toBeUndefined();
  });

  it('exports build info with the package version, and default metrics prefixed pyramid_', async () => {
    const bus = new Instrumentation();
    const { registry } = open(bus, true);
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(await valueOf(registry, 'pyramid_build_info', { version: pkg.version, node_version: process.version })).toBe(1);
    const text = await registry.metrics();
    expect(text).toMatch(/^pyramid_process_cpu_seconds_total \d/m);
    expect(text).toMatch(/^pyramid_nodejs_eventloop_lag_seconds /m);
    // Every sample in the exposition belongs to pyramid.
    const names = text.split('\n').filter((l) => l !== '' && !l.startsWith('#')).map((l) => l.split(/[{ ]/)[0]);
    expect(names.filter((n) => !n?.startsWith('pyramid_'))).toEqual([]);
  });

  it('keeps two scorers in one process apart and stops listening on close', async () => {
    const a = new Instrumentation();
    const b = new Instrumentation();
    const ma = open(a, true);
    const mb = open(b, true);
    a.emit('consumer.lag', { topic: 'tx', partition: 0, messages: 9, seconds: 1 });
    expect(await valueOf(ma.registry, 'pyramid_consumer_lag_messages', { topic: 'tx', partition: '0' })).toBe(9);
    expect(await valueOf(mb.registry, 'pyramid_consumer_lag_messages', { topic: 'tx', partition: '0' })).toBeUndefined();
    ma.close();
    a.emit('consumer.lag', { topic: 'tx', partition: 0, messages: 1, seconds: 0 });
    expect(await valueOf(ma.registry, 'pyramid_consumer_lag_messages', { topic: 'tx', partition: '0' })).toBe(9);
  });

  it('uses only bounded label names: no customer id can reach a label', async () => {
    const bus = new Instrumentation();
    const { registry } = open(bus);
    bus.emit('consumer.batch', { topic: 'tx', partition: 0, size: 1, stages: { decode: 0, validate: 0, apply: 0, publish: 0 } });
    bus.emit('tier.change', { from: null, to: 'VIP', cause: 'TRANSACTION', topic: 'tx', partition: 0, effectiveAt: 1, policyVersion: '1' });
    const allowed = new Set(['topic', 'partition', 'outcome', 'reason', 'stage', 'le', 'group', 'kind', 'from', 'to', 'cause', 'script', 'tier', 'currency', 'version', 'node_version', 'restarting', 'check', 'type', 'metric', 'share_bps']);
    const metrics = await registry.getMetricsAsJSON();
    const used = new Set(metrics.flatMap((m) => m.values.flatMap((v) => Object.keys(v.labels))));
    for (const name of metrics.map((m) => m.name)) {
      const declared = (registry.getSingleMetric(name) as unknown as { labelNames: string[] }).labelNames;
      for (const label of declared) used.add(label);
    }
    expect([...used].filter((l) => !allowed.has(l) || /customer|user|account|email/i.test(l))).toEqual([]);
    // tier.change context (topic, partition, effectiveAt, policyVersion) is for the status page, not labels.
    expect(await valueOf(registry, 'pyramid_tier_changes_total', { from: 'none', to: 'VIP', cause: 'TRANSACTION' })).toBe(1);
    const tierSeries = (await registry.getSingleMetric('pyramid_tier_changes_total')?.get())?.values ?? [];
    expect(Object.keys(tierSeries[0]?.labels ?? {}).sort()).toEqual(['cause', 'from', 'to']);
  });

  it('counts published signals by type and cause, never by customer', async () => {
    const bus = new Instrumentation();
    const { registry } = open(bus);
    bus.emit('signal.published', { type: 'NEAR_UPGRADE', cause: 'TRANSACTION', topic: 'tx', partition: 0 });
    bus.emit('signal.published', { type: 'NEAR_UPGRADE', cause: 'TRANSACTION', topic: 'tx', partition: 1 });
    bus.emit('signal.published', { type: 'DOWNGRADE_PENDING', cause: 'TIME', topic: 'tx', partition: 0 });
    expect(await valueOf(registry, 'pyramid_signals_total', { type: 'NEAR_UPGRADE', cause: 'TRANSACTION' })).toBe(2);
    expect(await valueOf(registry, 'pyramid_signals_total', { type: 'DOWNGRADE_PENDING', cause: 'TIME' })).toBe(1);
    expect(await valueOf(registry, 'pyramid_signals_total', { type: 'DOWNGRADE_CANCELLED', cause: 'TIME' })).toBeUndefined();
  });
});
