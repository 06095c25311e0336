import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { Instrumentation } from '../../src/instrumentation.js';
import { silentLogger } from '../../src/logger.js';
import { createHealth } from '../../src/ops/health.js';
import { startOpsServer } from '../../src/ops/http-server.js';
import { createMetrics } from '../../src/ops/metrics.js';
import { createStatusTracker, type StatusSnapshot } from '../../src/ops/status.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function start() {
  const bus = new Instrumentation();
  const metrics = createMetrics(bus);
  const status = createStatusTracker(bus);
  const server = await startOpsServer({ port: 0, host: '127.0.0.1', metrics, health: createHealth({ probes: [] }), status, logger: silentLogger });
  cleanups.push(async () => {
    await server.close();
    status.close();
    metrics.close();
  });
  return { bus, base: `http://127.0.0.1:${server.port}` };
}

describe('ops server', () => {
  it('serves /metrics in the Prometheus text format with values from events', async () => {
    const { bus, base } = await start();
    bus.emit('consumer.lag', { topic: 'tx', partition: 4, messages: 1200, seconds: 33 });
    const res = await fetch(`${base}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    expect(text).toContain('pyramid_consumer_lag_messages{topic="tx",partition="4"} 1200');
    expect(text).toContain('pyramid_consumer_lag_seconds{topic="tx",partition="4"} 33');
    expect(text).toMatch(/^pyramid_build_info\{version="[^"]+",node_version="v\d+/m);
    expect(text).toContain('pyramid_process_resident_memory_bytes');
  });

  it('evaluates readiness for each /metrics scrape, so pyramid_ready follows a failing probe without /readyz being asked', async () => {
    const bus = new Instrumentation();
    const metrics = createMetrics(bus, { collectDefaults: false });
    const status = createStatusTracker(bus);
    let redisUp = true;
    const health = createHealth({ probes: [{ name: 'redis', check: () => Promise.resolve({ ok: redisUp }) }], instrumentation: bus });
    const server = await startOpsServer({ port: 0, host: '127.0.0.1', metrics, health, status, logger: silentLogger });
    cleanups.push(async () => {
      await server.close();
      status.close();
      metrics.close();
    });
    const scrape = async (): Promise<string> => (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text();
    expect(await scrape()).toMatch(/^pyramid_ready 1$/m);
    redisUp = false;
    const down = await scrape();
    expect(down).toMatch(/^pyramid_ready 0$/m);
    expect(down).toContain('pyramid_readiness_check{check="redis"} 0');
  });

  it('serves /status.json with what the events said', async () => {
    const { bus, base } = await start();
    bus.emit('consumer.lag', { topic: 'tx', partition: 1, messages: 7, seconds: 2 });
    bus.emit('tier.change', { from: 'medium', to: 'major', cause: 'TRANSACTION', topic: 'tx', partition: 1 });
    const res = await fetch(`${base}/status.json`);
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
    const body = (await res.json()) as StatusSnapshot;
    expect(body.partitions[0]).toMatchObject({ topic: 'tx', partition: 1, lagMessages: 7, lagSeconds: 2 });
    expect(body.latestChanges[0]).toMatchObject({ from: 'medium', to: 'major', cause: 'TRANSACTION' });
  });

  it('serves a self-contained status page that can load nothing from other hosts', async () => {
    const { base } = await start();
    const res = await fetch(`${base}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const html = await res.text();
    expect(html).toMatch(/^<!doctype html>/);
    expect(html.match(/https?:\/\/[^\s"'<>)]+/g) ?? []).toEqual([]);
    expect(html).not.toMatch(/<(link|script|img|iframe)[^>]+(src|href)=["'](?!data:)/i);
    expect(html).not.toMatch(/@import|url\(/);

    // The CSP admits exactly the inline script and style, and only same-origin fetches.
    const csp = res.headers.get('content-security-policy') ?? '';
    const script = /<script>([\s\S]*?)<\/script>/.exec(html)?.[1] ?? '';
    const style = /<style>([\s\S]*?)<\/style>/.exec(html)?.[1] ?? '';
    const hash = (text: string) => createHash('sha256').update(text).digest('base64');
    expect(csp).toContain(`script-src 'sha256-${hash(script)}'`);
    expect(csp).toContain(`style-src 'sha256-${hash(style)}'`);
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("connect-src 'self'");
  });

  it('answers unknown paths 404, other methods 405, HEAD without a body', async () => {
    const { base } = await start();
    expect((await fetch(`${base}/nope`)).status).toBe(404);
    const post = await fetch(`${base}/metrics`, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    const head = await fetch(`${base}/healthz`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
    expect((await fetch(`${base}/readyz?verbose=1`)).status).toBe(200);
  });

  it('closes even while a client holds a keep-alive connection', async () => {
    const bus = new Instrumentation();
    const metrics = createMetrics(bus, { collectDefaults: false });
    const status = createStatusTracker(bus);
    const server = await startOpsServer({ port: 0, host: '127.0.0.1', metrics, health: createHealth({ probes: [] }), status, logger: silentLogger });
    await (await fetch(`http://127.0.0.1:${server.port}/healthz`, { keepalive: true })).text();
    await server.close();
    status.close();
    metrics.close();
    await expect(fetch(`http://127.0.0.1:${server.port}/healthz`)).rejects.toThrow();
  });
});
