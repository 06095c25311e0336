import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { Instrumentation, type InstrumentationEvents } from '../../src/instrumentation.js';
import { createLogger, silentLogger } from '../../src/logger.js';
import { startLagMonitor, type LagMonitor, type LagSource } from '../../src/pipeline/lag-monitor.js';
import { createMetrics } from '../../src/ops/metrics.js';

/**
 * An in-memory partitioned log with a group's committed offsets (what Kafka knows) and the
 * scorer's applied positions (what it knows in memory): the shape of the real thing.
 */
class MemoryLog implements LagSource {
  readonly records = new Map<number, number[]>(); // partition → record timestamps, offset = index
  /** The scorer's next offset to apply; absent = not known yet. */
  readonly positions = new Map<number, bigint>();
  readonly committed = new Map<number, bigint>();
  /** Whether the scorer has seen the records it is asked the timestamp of. */
  knowsTimestamps = true;
  failNext = false;
  failCommitted = false;
  constructor(
    readonly topic: string,
    partitions: number,
    readonly base = 0n,
  ) {
    for (let p = 0; p < partitions; p++) {
      this.records.set(p, []);
      this.positions.set(p, base);
    }
  }
  produce(partition: number, timestamp: number): void {
    this.records.get(partition)?.push(timestamp);
  }
  process(partition: number, count: number): void {
    this.positions.set(partition, (this.positions.get(partition) ?? 0n) + BigInt(count));
  }
  assignments() {
    return [...this.records.keys()].map((partition) => ({ topic: this.topic, partition }));
  }
  async logOffsets(): Promise<Map<number, { start: string; end: string }>> {
    if (this.failNext) {
      this.failNext = false;
      throw new Error('KafkaJSNumberOfRetriesExceeded: broker unavailable');
    }
    return new Map([...this.records].map(([p, ts]) => [p, { start: String(this.base), end: String(this.base + BigInt(ts.length)) }]));
  }
  async committedOffsets(): Promise<Map<number, string>> {
    if (this.failCommitted) throw new Error('NOT_COORDINATOR');
    return new Map([...this.committed].map(([p, offset]) => [p, String(offset)]));
  }
  nextOffsetToApply(_topic: string, partition: number): string | undefined {
    const next = this.positions.get(partition);
    return next === undefined ? undefined : String(next);
  }
  recordTimestamp(_topic: string, partition: number, offset: string): number | null {
    if (!this.knowsTimestamps) return null;
    return this.records.get(partition)?.[Number(BigInt(offset) - this.base)] ?? null;
  }
}

describe('startLagMonitor', () => {
  const monitors: LagMonitor[] = [];
  afterEach(async () => {
    for (const m of monitors.splice(0)) await m.stop();
  });
  const start = (bus: Instrumentation, source: LagSource, now: () => number, logger = silentLogger) => {
    const monitor = startLagMonitor({ instrumentation: bus, source, intervalMs: 60_000, logger, now });
    monitors.push(monitor);
    return monitor;
  };
  const lastLag = (bus: Instrumentation) => {
    const latest = new Map<number, InstrumentationEvents['consumer.lag']>();
    bus.on('consumer.lag', (e) => latest.set(e.partition, e));
    return latest;
  };

  it('reports exactly N records and the age of the oldest unprocessed one while paused, 0 once caught up', async () => {
    const clock = { t: 1_800_000_000_000 };
    const bus = new Instrumentation();
    const metrics = createMetrics(bus, { collectDefaults: false });
    const log = new MemoryLog('tx', 3);
    const latest = lastLag(bus);
    const monitor = start(bus, log, () => clock.t);
    await monitor.refresh();
    expect([...latest.values()].map((e) => [e.partition, e.messages, e.seconds])).toEqual([
      [0, 0, 0],
      [1, 0, 0],
      [2, 0, 0],
    ]);

    // Scorer paused: N records per partition arrive, one per second.
    const N = 25;
    for (let i = 0; i < N; i++) for (const p of [0, 1, 2]) log.produce(p, clock.t + i * 1000);
    clock.t += 60_000;
    await monitor.refresh();
    for (const p of [0, 1, 2]) expect(latest.get(p)).toEqual({ topic: 'tx', partition: p, messages: N, seconds: 60 });
    const text = await metrics.registry.metrics();
    for (const p of [0, 1, 2]) expect(text).toContain(`pyramid_consumer_lag_messages{topic="tx",partition="${p}"} ${N}`);

    // Partly processed: the oldest unprocessed record is now the 11th.
    log.process(1, 10);
    await monitor.refresh();
    expect(latest.get(1)).toEqual({ topic: 'tx', partition: 1, messages: N - 10, seconds: 50 });
    clock.t += 5_000;
    await monitor.refresh();
    expect(latest.get(1)?.seconds).toBe(55);

    // Resumed and caught up.
    for (const p of [0, 1, 2]) log.process(p, p === 1 ? N - 10 : N);
    await monitor.refresh();
    for (const p of [0, 1, 2]) expect(latest.get(p)).toEqual({ topic: 'tx', partition: p, messages: 0, seconds: 0 });
    metrics.close();
  });

  it('grows while the applied position stands still, Redis or no Redis: the source is memory only', async () => {
    const clock = { t: 1_800_000_000_000 };
    const bus = new Instrumentation();
    const log = new MemoryLog('tx', 1);
    const latest = lastLag(bus);
    const monitor = start(bus, log, () => clock.t);
    for (let round = 1; round <= 3; round++) {
      for (let i = 0; i < 100; i++) log.produce(0, clock.t);
      clock.t += 10_000;
      await monitor.refresh();
      expect(latest.get(0)).toMatchObject({ messages: 100 * round, seconds: 10 * round });
    }
  });

  it('takes a timestamp learned after the first measurement, and without one counts from when the position was first seen behind', async () => {
    const clock = { t: 1_000_000 };
    const bus = new Instrumentation();
    const log = new MemoryLog('tx', 1);
    log.knowsTimestamps = false;
    const latest = lastLag(bus);
    const monitor = start(bus, log, () => clock.t);
    log.produce(0, 400_000);
    await monitor.refresh();
    expect(latest.get(0)).toEqual({ topic: 'tx', partition: 0, messages: 1, seconds: 0 });
    // Still nothing known: the age grows from the first sighting, a lower bound, never stuck at 0.
    clock.t += 7_000;
    await monitor.refresh();
    expect(latest.get(0)?.seconds).toBe(7);
    // The scorer has now seen the record (e.g. its batch is in hand): the exact age.
    log.knowsTimestamps = true;
    await monitor.refresh();
    expect(latest.get(0)?.seconds).toBe(607);
  });

  it("reports Kafka's view too: log end minus the committed offset, the log start when nothing is committed", async () => {
    const clock = { t: 100_000 };
    const bus = new Instrumentation();
    const log = new MemoryLog('tx', 2, 50n);
    for (let i = 0; i < 10; i++) for (const p of [0, 1]) log.produce(p, 90_000 + i * 1000);
    log.process(0, 10);
    log.committed.set(0, 54n);
    const committed = new Map<number, InstrumentationEvents['consumer.committed_lag']>();
    bus.on('consumer.committed_lag', (e) => committed.set(e.partition, e));
    const latest = lastLag(bus);
    await start(bus, log, () => clock.t).refresh();
    expect(latest.get(0)).toMatchObject({ messages: 0, seconds: 0 });
    expect(committed.get(0)).toEqual({ topic: 'tx', partition: 0, messages: 6, seconds: 6 });
    expect(committed.get(1)).toEqual({ topic: 'tx', partition: 1, messages: 10, seconds: 10 });
  });

  it('before the scorer knows its position, measures from where Kafka would start it', async () => {
    const bus = new Instrumentation();
    const log = new MemoryLog('tx', 2);
    for (let i = 0; i < 8; i++) for (const p of [0, 1]) log.produce(p, 0);
    log.positions.clear();
    log.committed.set(0, 3n);
    const latest = lastLag(bus);
    await start(bus, log, () => 0).refresh();
    expect([latest.get(0)?.messages, latest.get(1)?.messages]).toEqual([5, 8]);
  });

  it('keeps reporting its own lag when the committed offsets cannot be read', async () => {
    const bus = new Instrumentation();
    const log = new MemoryLog('tx', 1);
    log.produce(0, 0);
    log.failCommitted = true;
    const committed: unknown[] = [];
    bus.on('consumer.committed_lag', (e) => committed.push(e));
    const latest = lastLag(bus);
    await start(bus, log, () => 0).refresh();
    expect(latest.get(0)?.messages).toBe(1);
    expect(committed).toEqual([]);
  });

  it('keeps offsets beyond 2^53 exact', async () => {
    const bus = new Instrumentation();
    const log = new MemoryLog('tx', 1, 9_007_199_254_740_990n);
    for (let i = 0; i < 9; i++) log.produce(0, 0);
    const latest = lastLag(bus);
    await start(bus, log, () => 0).refresh();
    expect(latest.get(0)?.messages).toBe(9);
  });

  it('logs a failed measurement and recovers on the next one', async () => {
    const bus = new Instrumentation();
    const lines: string[] = [];
    const logger = createLogger({
      level: 'warn',
      destination: new Writable({
        write(chunk: Buffer, _enc, done) {
          lines.push(chunk.toString());
          done();
        },
      }),
    });
    const log = new MemoryLog('tx', 1);
    const latest = lastLag(bus);
    const monitor = start(bus, log, () => 0, logger);
    await monitor.refresh();
    log.produce(0, 0);
    log.failNext = true;
    await monitor.refresh();
    expect(latest.get(0)?.messages).toBe(0);
    expect(lines.some((l) => l.includes('consumer lag measurement failed') && l.includes('broker unavailable'))).toBe(true);
    await monitor.refresh();
    expect(latest.get(0)?.messages).toBe(1);
  });
});
