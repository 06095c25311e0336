import { Redis } from 'ioredis';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { startSchemaRegistry } from '@pyramid/devstack';
import { Instrumentation } from '../../src/instrumentation.js';
import { silentLogger } from '../../src/logger.js';
import { createHealth, type ReadinessBody } from '../../src/ops/health.js';
import { kafkaGroupProbe, redisProbe, registryProbe } from '../../src/pipeline/readiness-probes.js';
import { startOpsServer } from '../../src/ops/http-server.js';
import { createMetrics } from '../../src/ops/metrics.js';
import { createStatusTracker } from '../../src/ops/status.js';
import { freePort, startRedisServer } from '../helpers/redis-server.js';
import { HOLDS_PARTITIONS } from '../helpers/group-probe.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function redisClient(url: string): Redis {
  // Retry forever like the scorer's own client would, so the probe sees reconnects.
  const client = new Redis(url, { maxRetriesPerRequest: 1, retryStrategy: () => 100 });
  cleanups.push(() => client.disconnect());
  return client;
}

/** Poll readiness until `predicate` holds; the surrounding test timeout bounds the wait. */
async function readyUntil(check: () => Promise<{ ok: boolean; body: ReadinessBody }>, predicate: (r: { ok: boolean; body: ReadinessBody }) => boolean) {
  for (;;) {
    const result = await check();
    if (predicate(result)) return result;
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function opsServerWith(health: ReturnType<typeof createHealth>) {
  const bus = new Instrumentation();
  const metrics = createMetrics(bus, { collectDefaults: false });
  const status = createStatusTracker(bus);
  const server = await startOpsServer({ port: 0, host: '127.0.0.1', metrics, health, status, logger: silentLogger });
  cleanups.push(async () => {
    await server.close();
    status.close();
    metrics.close();
  });
  return `http://127.0.0.1:${server.port}`;
}

describe('readiness', () => {
  it('is ready with the suite Redis, and answers /readyz 200 with every check', async () => {
    const bus = new Instrumentation();
    const group = kafkaGroupProbe(bus, HOLDS_PARTITIONS);
    cleanups.push(() => group.close());
    const health = createHealth({ probes: [redisProbe(redisClient(inject('redisUrl'))), group] });
    const base = await opsServerWith(health);

    bus.emit('consumer.group_joined', { groupId: 'g1', memberId: 'm1', partitions: 4 });
    await readyUntil(() => health.ready(), (r) => r.ok);
    const res = await fetch(`${base}/readyz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ready', checks: { redis: { ok: true }, 'kafka-group': { ok: true, detail: 'member of g1, 4 partitions' } } });

    const live = await fetch(`${base}/healthz`);
    expect(live.status).toBe(200);
    expect(await live.json()).toMatchObject({ status: 'alive' });
  });

  it('answers 503 with the connection error when Redis is not there', async () => {
    const port = await freePort();
    const health = createHealth({ probes: [redisProbe(redisClient(`redis://127.0.0.1:${port}`))] });
    const base = await opsServerWith(health);
    await readyUntil(() => health.ready(), (r) => r.body.checks.redis?.detail?.includes('ECONNREFUSED') === true);

    const res = await fetch(`${base}/readyz`);
    expect(res.status).toBe(503);
    const body = (await res.json()) as ReadinessBody;
    expect(body.status).toBe('not ready');
    expect(body.checks.redis?.ok).toBe(false);
    expect(body.checks.redis?.detail).toMatch(new RegExp(`connect ECONNREFUSED 127\\.0\\.0\\.1:${port}`));
    // Liveness does not depend on Redis: an outage must not get the process restarted.
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });

  it('turns 503 while Redis is stopped and 200 again once it is back', async () => {
    const redis = await startRedisServer();
    cleanups.push(() => redis.stop());
    const health = createHealth({ probes: [redisProbe(redisClient(redis.url))] });
    const base = await opsServerWith(health);
    await readyUntil(() => health.ready(), (r) => r.ok);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);

    await redis.stop();
    await readyUntil(() => health.ready(), (r) => !r.ok);
    const down = await fetch(`${base}/readyz`);
    expect(down.status).toBe(503);
    expect(((await down.json()) as ReadinessBody).checks.redis?.ok).toBe(false);

    const again = await startRedisServer({ port: redis.port });
    cleanups.push(() => again.stop());
    await readyUntil(() => health.ready(), (r) => r.ok);
    const up = await fetch(`${base}/readyz`);
    expect(up.status).toBe(200);
    expect(await up.json()).toEqual({ status: 'ready', checks: { redis: { ok: true } } });
  });

  it('follows group membership: not joined, joined, left', async () => {
    const bus = new Instrumentation();
    const group = kafkaGroupProbe(bus, HOLDS_PARTITIONS);
    cleanups.push(() => group.close());
    const health = createHealth({ probes: [group] });
    expect((await health.ready()).body).toEqual({ status: 'not ready', checks: { 'kafka-group': { ok: false, detail: 'consumer group not joined yet' } } });
    bus.emit('consumer.group_joined', { groupId: 'scorers', memberId: 'm', partitions: 4 });
    expect((await health.ready()).ok).toBe(true);
    bus.emit('consumer.group_left', { groupId: 'scorers', reason: 'consumer crashed: KafkaJSNumberOfRetriesExceeded' });
    expect((await health.ready()).body.checks['kafka-group']).toEqual({ ok: false, detail: 'left scorers: consumer crashed: KafkaJSNumberOfRetriesExceeded' });
  });

  it('checks the schema registry with GET /subjects, and says why when it is down', async () => {
    const registry = await startSchemaRegistry({ port: 0 });
    cleanups.push(() => registry.close());
    expect(await registryProbe({ url: registry.url }).check()).toEqual({ ok: true });

    const closed = await freePort();
    const down = await registryProbe({ url: `http://user:secret@127.0.0.1:${closed}` }).check();
    expect(down.ok).toBe(false);
    expect(down.detail).toContain('ECONNREFUSED');
    expect(down.detail).not.toContain('secret');
  });

  it('bounds every probe by the timeout and reports a throwing probe as failing', async () => {
    const health = createHealth({
      timeoutMs: 50,
      probes: [
        { name: 'registry', check: () => new Promise(() => {}) },
        { name: 'redis', check: () => Promise.reject(new Error('NOAUTH Authentication required.')) },
      ],
    });
    expect(await health.ready()).toEqual({
      ok: false,
      body: { status: 'not ready', checks: { registry: { ok: false, detail: 'no answer within 50 ms' }, redis: { ok: false, detail: 'NOAUTH Authentication required.' } } },
    });
  });
});
