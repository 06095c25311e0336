import { afterEach, describe, expect, it } from 'vitest';
import { Instrumentation } from '../../src/instrumentation.js';
import { createStatusTracker } from '../../src/ops/status.js';

describe('createStatusTracker', () => {
  const closers: (() => void)[] = [];
  afterEach(() => {
    for (const close of closers.splice(0)) close();
  });
  const track = (bus: Instrumentation, options: Parameters<typeof createStatusTracker>[1] = {}) => {
    const tracker = createStatusTracker(bus, options);
    closers.push(() => tracker.close());
    return tracker;
  };

  it('reports lag, processed counts and outbox per partition, sorted by topic and partition', async () => {
    const bus = new Instrumentation();
    const tracker = track(bus);
    bus.emit('consumer.lag', { topic: 'tx', partition: 2, messages: 10, seconds: 4.25 });
    bus.emit('consumer.lag', { topic: 'tx', partition: 0, messages: 3, seconds: 1 });
    bus.emit('consumer.records', { topic: 'tx', partition: 0, outcome: 'scored', count: 1 });
    bus.emit('consumer.records', { topic: 'tx', partition: 0, outcome: 'late', count: 1 });
    bus.emit('outbox.pending', { topic: 'tx', partition: 2, pending: 6 });
    const s = await tracker.snapshot();
    expect(s.partitions.map((p) => [p.topic, p.partition, p.lagMessages, p.lagSeconds, p.outboxPending])).toEqual([
      ['tx', 0, 3, 1, null],
      ['tx', 2, 10, 4.25, 6],
    ]);
    expect(s.partitions[0]?.processed).toEqual({ scored: 1, duplicate: 0, late: 1, dlq: 0, stale: 0 });
    expect(s.totals.processed.scored).toBe(1);
  });

  it('shows per partition the policy in force, the one being switched from and the re-evaluation progress', async () => {
    const bus = new Instrumentation();
    const tracker = track(bus);
    bus.emit('consumer.lag', { topic: 'tx', partition: 1, messages: 0, seconds: 0 });
    expect((await tracker.snapshot()).partitions[0]?.policy).toBeNull();
    bus.emit('policy.reevaluation', { topic: 'tx', partition: 0, done: 64, of: 64, policyVersion: 'v1', switchingFrom: null });
    bus.emit('policy.reevaluation', { topic: 'tx', partition: 1, done: 16, of: 64, policyVersion: 'v2', switchingFrom: 'v1' });
    const s = await tracker.snapshot();
    expect(s.partitions.map((p) => [p.partition, p.policy])).toEqual([
      [0, { version: 'v1', switchingFrom: null, done: 64, of: 64 }],
      [1, { version: 'v2', switchingFrom: 'v1', done: 16, of: 64 }],
    ]);
    bus.emit('policy.reevaluation', { topic: 'tx', partition: 1, done: 64, of: 64, policyVersion: 'v2', switchingFrom: null });
    expect((await tracker.snapshot()).partitions[1]?.policy).toEqual({ version: 'v2', switchingFrom: null, done: 64, of: 64 });
    // A snapshot is a copy: a later event does not change one already handed out.
    expect(s.partitions[1]?.policy?.done).toBe(16);
  });

  it('shows the epoch of relative boundaries this scorer evaluates against, without customer ids', async () => {
    const bus = new Instrumentation();
    const tracker = track(bus);
    expect((await tracker.snapshot()).ranking).toBeNull();
    const cuts = [{ metric: 'monetary', bps: 100, rank: 21, value: 6_000_000 }];
    bus.emit('ranking.boundaries', { epoch: 4, at: 1000, population: 2126, cuts });
    expect((await tracker.snapshot()).ranking).toEqual({ epoch: 4, at: 1000, population: 2126, cuts });
  });

  it('shows which partitions the event-clock barrier waits on, on the coordinator instance', async () => {
    const bus = new Instrumentation();
    const tracker = track(bus);
    expect((await tracker.snapshot()).barrier).toBeNull();
    bus.emit('ranking.barrier', { instant: 21_600_000, waiting: [2] });
    expect((await tracker.snapshot()).barrier).toEqual({ instant: 21_600_000, waiting: [2] });
    bus.emit('ranking.barrier', { instant: 21_600_000, waiting: [] });
    expect((await tracker.snapshot()).barrier).toEqual({ instant: 21_600_000, waiting: [] });
  });

  it('averages throughput over whole seconds of the window only', async () => {
    let clock = 1_000_000;
    const bus = new Instrumentation();
    const tracker = track(bus, { throughputWindowSeconds: 4, now: () => clock });
    const burst = (n: number) => {
      // Split like batches are: the window counts records, not events.
      for (let left = n; left > 0; left -= 3) bus.emit('consumer.records', { topic: 'tx', partition: 0, outcome: 'scored', count: Math.min(3, left) });
    };
    burst(8); // second 1000
    clock += 1000;
    burst(4); // second 1001
    clock += 1000;
    burst(100); // second 1002: still filling, not counted yet
    expect((await tracker.snapshot()).partitions[0]?.throughputPerSecond).toBe(3);
    clock += 5000; // second 1007: window is 1003..1006, all old seconds fall out
    expect((await tracker.snapshot()).partitions[0]?.throughputPerSecond).toBe(0);
  });

  it('keeps the latest tier changes newest first, bounded, without customer ids', async () => {
    const bus = new Instrumentation();
    const tracker = track(bus, { changesCapacity: 3 });
    const change = (i: number) => bus.emit('tier.change', { from: 'small', to: 'medium', cause: 'TRANSACTION', partition: i, topic: 'tx', effectiveAt: i, policyVersion: 'v1' });
    for (let i = 0; i < 2; i++) change(i);
    expect((await tracker.snapshot()).latestChanges.map((c) => c.partition)).toEqual([1, 0]);
    for (let i = 2; i < 5; i++) change(i);
    const s = await tracker.snapshot();
    expect(s.latestChanges.map((c) => c.partition)).toEqual([4, 3, 2]);
    change(5);
    expect((await tracker.snapshot()).latestChanges.map((c) => c.partition)).toEqual([5, 4, 3]);
    expect(s.totals.tierChanges).toBe(5);
    expect(Object.keys(s.latestChanges[0] ?? {}).sort()).toEqual(['at', 'cause', 'effectiveAt', 'from', 'partition', 'policyVersion', 'to', 'topic']);
  });

  it('counts DLQ by reason, orders the census by rank, forgets revoked partitions', async () => {
    const bus = new Instrumentation();
    const tracker = track(bus);
    bus.emit('consumer.dlq', { topic: 'tx', partition: 0, reason: 'DECODE_FAILED' });
    bus.emit('consumer.dlq', { topic: 'tx', partition: 1, reason: 'VALIDATION_FAILED' });
    bus.emit('consumer.dlq', { topic: 'tx', partition: 1, reason: 'VALIDATION_FAILED' });
    bus.emit('pyramid.census', {
      currency: 'CNY',
      minorUnitDigits: 2,
      tiers: [
        { tier: 'small', rank: 1, customers: 1701, revenueMinor: 197_316_000 },
        { tier: 'VIP', rank: 4, customers: 21, revenueMinor: 239_400_000 },
        { tier: 'inactive', rank: 0, customers: 80, revenueMinor: 0 },
      ],
    });
    bus.emit('consumer.lag', { topic: 'tx', partition: 1, messages: 1, seconds: 1 });
    bus.emit('consumer.rebalance', { groupId: 'g', kind: 'revoked', partitions: 1, topicPartitions: [{ topic: 'tx', partition: 1 }] });
    const s = await tracker.snapshot();
    expect(s.dlq).toEqual([
      { reason: 'VALIDATION_FAILED', count: 2 },
      { reason: 'DECODE_FAILED', count: 1 },
    ]);
    expect(s.totals.dlq).toBe(3);
    expect(s.pyramid?.tiers.map((t) => t.tier)).toEqual(['VIP', 'small', 'inactive']);
    expect(s.partitions).toEqual([]);
  });
});
