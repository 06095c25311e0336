import { createServer, type Server } from 'node:net';
import { describe, expect, it } from 'vitest';
import { Instrumentation } from '../../src/instrumentation.js';
import { silentLogger } from '../../src/logger.js';
import { DEFAULT_OPS_HOST, startOps } from '../../src/ops/index.js';
import { kafkaGroupProbe } from '../../src/pipeline/readiness-probes.js';
import { HOLDS_PARTITIONS } from '../helpers/group-probe.js';

async function holdPort(): Promise<{ server: Server; port: number }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return { server, port: address.port };
}

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
    await expect(startOps({ instrumentation: bus, logger: silentLogger, port: first.port, host: '127.0.0.1', probes: [] })).rejects.toThrow(`cannot listen on 127.0.0.1:${first.port}: address already in use`);
    // The first server is untouched by the failed attempt.
    expect((await fetch(`http://127.0.0.1:${first.port}/healthz`)).status).toBe(200);
    await first.close();
  });

  it('a taken port rejects, even with a census waiting for a scorer that never starts (it hung, and `pyramid run` exited 0 in silence)', async () => {
    const held = await holdPort();
    try {
      const never = new Promise<undefined>(() => undefined);
      const opened = startOps({ instrumentation: new Instrumentation(), logger: silentLogger, port: held.port, probes: [], census: { source: { census: () => never } } });
      await expect(opened).rejects.toMatchObject({ code: 'HTTP_LISTEN_FAILED', message: `cannot listen on 127.0.0.1:${held.port}: address already in use` });
    } finally {
      held.server.close();
    }
  });

  it('listens on loopback unless told otherwise', async () => {
    expect(DEFAULT_OPS_HOST).toBe('127.0.0.1');
    const ops = await startOps({ instrumentation: new Instrumentation(), logger: silentLogger, port: 0, probes: [] });
    try {
      // Whether this machine has another interface to try is up to the machine; the address the
      // socket is bound to is what proves it (0.0.0.0 would also answer on 127.0.0.1).
      expect(ops.host).toBe('127.0.0.1');
      expect((await fetch(`http://127.0.0.1:${ops.port}/healthz`)).status).toBe(200);
    } finally {
      await ops.close();
    }
  });
});
