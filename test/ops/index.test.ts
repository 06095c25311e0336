import { describe, expect, it } from 'vitest';
import { Instrumentation } from '../../src/instrumentation.js';
import { silentLogger } from '../../src/logger.js';
import { kafkaGroupProbe, startOps } from '../../src/ops/index.js';
import { HOLDS_PARTITIONS } from '../helpers/group-probe.js';

describe('startOps', () => {
  it('wires metrics, readiness, census and lag into one server, and closes it all', async () => {
    const bus = new Instrumentation();
    const group = kafkaGroupProbe(bus, HOLDS_PARTITIONS);
    const ops = await startOps({
      instrumentation: bus,
      logger: silentLogger,
      port: 0,
      host: '127.0.0.1',
      probes: [group],
      census: { source: { census: async () => ({ currency: 'EUR', minorUnitDigits: 2, tiers: [{ tier: 'gold', rank: 1, customers: 3, revenueMinor: 999 }] }) }, intervalMs: 60_000 },
      lag: {
        source: {
          assignments: () => [{ topic: 'tx', partition: 0 }],
          logOffsets: async () => new Map([[0, { start: '0', end: '42' }]]),
          committedOffsets: async () => new Map([[0, '30']]),
          nextOffsetToApply: () => '40',
          recordTimestamp: () => Date.now() - 3000,
        },
        intervalMs: 60_000,
      },
    });
    const base = `http://127.0.0.1:${ops.port}`;
    await ops.lagMonitor?.refresh();
    bus.emit('consumer.group_joined', { groupId: 'g', memberId: 'm', partitions: 4 });

    const text = await (await fetch(`${base}/metrics`)).text();
    expect(text).toContain('pyramid_consumer_lag_messages{topic="tx",partition="0"} 2');
    expect(text).toContain('pyramid_consumer_committed_lag_messages{topic="tx",partition="0"} 12');
    expect(text).toContain('pyramid_tier_customers{tier="gold"} 3');
    expect((await fetch(`${base}/readyz`)).status).toBe(200);

    await ops.close();
    group.close();
    await expect(fetch(`${base}/healthz`)).rejects.toThrow();
  });

  it('fails on a taken port without disturbing the server that holds it', async () => {
    const bus = new Instrumentation();
    const first = await startOps({ instrumentation: bus, logger: silentLogger, port: 0, host: '127.0.0.1', probes: [] });
    await expect(startOps({ instrumentation: bus, logger: silentLogger, port: first.port, host: '127.0.0.1', probes: [] })).rejects.toThrow(/EADDRINUSE/);
    // The first server is untouched by the failed attempt.
    expect((await fetch(`http://127.0.0.1:${first.port}/healthz`)).status).toBe(200);
    await first.close();
  });
});
