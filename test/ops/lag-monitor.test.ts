import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { Instrumentation, type InstrumentationEvents } from '../../src/instrumentation.js';
import { createLogger, silentLogger } from '../../src/logger.js';
import { startLagMonitor, type LagMonitor, type LagSource } from '../../src/ops/lag-monitor.js';
import { createMetrics } from '../../src/ops/metrics.js';

/** An in-memory partitioned log with a movable consumer position: the shape of the real thing. */
class MemoryLog implements LagSource {
  readonly records = new Map<number, number[]>(); // partition → record timestamps, offset = index
  readonly positions = new Map<number, bigint>();
  timestampLookups = 0;
  failNext = false;
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
  async logEndOffsets(): Promise<Map<number, string>> {
    if (this.failNext) {
      this.failNext = false;
      throw new Error('KafkaJSNumberOfRetriesExceeded: broker unavailable');
    }
    return new Map([...this.records].map(([p, ts]) => [p, String(this.base + BigInt(ts.length))]));
  }
  async nextOffset(_topic: string, partition: number): Promise<string> {
    return String(this.positions.get(partition));
  }
  async recordTimestamp(_topic: string, partition: number, offset: string): Promise<number | null> {
    this.timestampLookups += 1;
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

  it('reads one timestamp per position, not per refresh', async () => {
    const bus = new Instrumentation();
    const log = new MemoryLog('tx', 1);
    log.produce(0, 1000);
    const monitor = start(bus, log, () => 5000);
    await monitor.refresh();
    await monitor.refresh();
    await monitor.refresh();
    // The timer's first run plus three refreshes, all at offset 0.
    expect(log.timestampLookups).toBe(1);
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
