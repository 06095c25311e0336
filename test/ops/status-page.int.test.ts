import { existsSync, mkdirSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Instrumentation } from '../../src/instrumentation.js';
import { silentLogger } from '../../src/logger.js';
import { createHealth } from '../../src/ops/health.js';
import { kafkaGroupProbe, redisProbe } from '../../src/pipeline/readiness-probes.js';
import { startOpsServer, type OpsServer } from '../../src/ops/http-server.js';
import { createMetrics, type Metrics } from '../../src/ops/metrics.js';
import { createStatusTracker } from '../../src/ops/status.js';
import { HOLDS_PARTITIONS } from '../helpers/group-probe.js';

/** Debian's chromium; CI installs it (apt-get install chromium). */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CHROMIUM_FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const ARTIFACTS = new URL('../../test-artifacts/', import.meta.url);

/** The customer-pyramid worked example of policies/default.yaml, plus inactive customers at the base. */
const CENSUS = {
  currency: 'CNY',
  minorUnitDigits: 2,
  tiers: [
    { tier: 'small', rank: 1, customers: 1701, revenueMinor: 197_316_000, profitMinor: -88_792_200 },
    { tier: 'VIP', rank: 4, customers: 21, revenueMinor: 239_400_000, profitMinor: 95_760_000 },
    { tier: 'medium', rank: 2, customers: 319, revenueMinor: 290_290_000, profitMinor: 31_900_000 },
    { tier: 'major', rank: 3, customers: 85, revenueMinor: 268_600_000, profitMinor: 42_500_000 },
    { tier: 'inactive', rank: 0, customers: 412, revenueMinor: 0, profitMinor: 0 },
  ],
  profitConcentration: { customers: 2538, totalProfitMinor: 81_367_800, top20Customers: 507, top20ProfitMinor: 65_094_240, bottom30Customers: 761, bottom30ProfitMinor: -40_683_900, at: 1_764_700_000_000 },
};

/**
 * Poll a condition on the page; the test timeout bounds the wait. (page.waitForFunction cannot be
 * used: it evaluates strings, which the page's CSP rightly forbids.)
 */
async function until(condition: () => Promise<boolean>): Promise<void> {
  while (!(await condition())) await new Promise((r) => setTimeout(r, 100));
}

function metricValue(exposition: string, series: string): number {
  const line = exposition.split('\n').find((l) => l.startsWith(`${series} `));
  if (!line) throw new Error(`series ${series} not in /metrics`);
  return Number(line.slice(series.length + 1));
}

describe('status page in headless Chromium', () => {
  const bus = new Instrumentation();
  let metrics: Metrics;
  let status: ReturnType<typeof createStatusTracker>;
  let group: ReturnType<typeof kafkaGroupProbe>;
  let redis: Redis;
  let server: OpsServer;
  let browser: Browser;
  let traffic: NodeJS.Timeout;
  let base: string;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: apt-get install -y chromium (or set CHROMIUM_PATH)`);
    metrics = createMetrics(bus);
    status = createStatusTracker(bus);
    group = kafkaGroupProbe(bus, HOLDS_PARTITIONS);
    redis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: 1 });
    const health = createHealth({ probes: [group, redisProbe(redis)] });
    server = await startOpsServer({ port: 0, host: '127.0.0.1', metrics, health, status, logger: silentLogger });
    base = `http://127.0.0.1:${server.port}`;
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS });

    bus.emit('consumer.group_joined', { groupId: 'scorers', memberId: 'm-1', partitions: 4 });
    bus.emit('pyramid.census', CENSUS);
    const lags = [0, 1250, 37, 4];
    lags.forEach((messages, partition) => {
      bus.emit('consumer.lag', { topic: 'transactions', partition, messages, seconds: messages === 0 ? 0 : messages / 50 });
      bus.emit('outbox.pending', { topic: 'transactions', partition, pending: partition });
    });
    // Partition 2 is switching policy: a quarter of its customers re-evaluated so far.
    for (let partition = 0; partition < 4; partition++) {
      const switching = partition === 2;
      bus.emit('policy.reevaluation', { topic: 'transactions', partition, done: switching ? 16 : 64, of: 64, policyVersion: '2026-12', switchingFrom: switching ? '2026-11' : null });
    }
    bus.emit('consumer.dlq', { topic: 'transactions', partition: 1, reason: 'DECODE_FAILED' });
    bus.emit('consumer.records', { topic: 'transactions', partition: 1, outcome: 'dlq', count: 1 });
    for (let i = 0; i < 3; i++) {
      bus.emit('consumer.dlq', { topic: 'transactions', partition: 2, reason: 'VALIDATION_FAILED' });
      bus.emit('consumer.records', { topic: 'transactions', partition: 2, outcome: 'dlq', count: 1 });
    }
    const changes = [
      { from: null, to: 'small', cause: 'TRANSACTION' },
      { from: 'small', to: 'medium', cause: 'TRANSACTION' },
      { from: 'medium', to: 'major', cause: 'TRANSACTION' },
      { from: 'major', to: 'medium', cause: 'TIME' },
      { from: 'small', to: 'inactive', cause: 'TIME' },
      { from: 'major', to: 'VIP', cause: 'TRANSACTION' },
      { from: 'VIP', to: 'major', cause: 'REFUND' },
      { from: 'medium', to: 'major', cause: 'BOUNDARY' },
    ];
    changes.forEach((c, i) => bus.emit('tier.change', { ...c, topic: 'transactions', partition: i % 4, effectiveAt: Date.now() - i * 1000, policyVersion: '2026-11' }));
    // Steady synthetic traffic so throughput and sparklines have something to show.
    traffic = setInterval(() => {
      for (let partition = 0; partition < 4; partition++) {
        for (let i = 0; i < 2 + partition * 3; i++) bus.emit('consumer.records', { topic: 'transactions', partition, outcome: i % 7 === 6 ? 'duplicate' : 'scored', count: 1 });
      }
    }, 100);
  });

  afterAll(async () => {
    clearInterval(traffic);
    await browser?.close();
    await server?.close();
    status?.close();
    group?.close();
    redis?.disconnect();
    metrics?.close();
  });

  it('draws the pyramid and per-partition lag equal to /metrics, updates live, and loads nothing else', async () => {
    const page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
    const problems: string[] = [];
    page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
    page.on('console', (msg) => {
      // Chromium logs every non-2xx fetch; /readyz answering 503 while not ready is the contract.
      const expected503 = msg.location().url === `${base}/readyz` && msg.text().includes('status of 503');
      if ((msg.type() === 'error' || msg.type() === 'warning') && !expected503) problems.push(`console ${msg.type()}: ${msg.text()}`);
    });
    const requested: string[] = [];
    page.on('request', (req) => requested.push(req.url()));

    await page.goto(base);
    await page.waitForSelector('#pyramid g[data-tier]');

    // The pyramid: most valuable tier on top, each layer a trapezoid wider than the one above.
    const layers = [];
    for (const g of await page.locator('#pyramid g[data-tier]').all()) {
      const xs = ((await g.locator('polygon').getAttribute('points')) ?? '').split(' ').map(Number).filter((_, i) => i % 2 === 0);
      layers.push({
        tier: await g.getAttribute('data-tier'),
        customers: await g.locator('[data-field="customers"]').getAttribute('data-value'),
        topWidth: (xs[1] ?? 0) - (xs[0] ?? 0),
        bottomWidth: (xs[2] ?? 0) - (xs[3] ?? 0),
      });
    }
    expect(layers.map((l) => l.tier)).toEqual(['VIP', 'major', 'medium', 'small', 'inactive']);
    for (const [i, layer] of layers.entries()) {
      expect(layer.bottomWidth).toBeGreaterThan(layer.topWidth);
      if (i > 0) expect(layer.topWidth).toBeGreaterThan(layers[i - 1]?.bottomWidth ?? Infinity);
    }
    expect(await page.locator('#pyramid').isVisible()).toBe(true);

    // Profit per tier, its share and per customer (the VIP tier's 45,600 CNY each), and the 80/20/30 line.
    const vip = page.locator('#tiers-body tr[data-tier="VIP"]');
    expect(Number(await vip.locator('[data-field="profitMinor"]').getAttribute('data-value'))).toBe(95_760_000);
    expect(await vip.locator('[data-field="profitPerCustomer"]').textContent()).toContain('45,600');
    expect(await vip.locator('[data-field="profitShare"]').textContent()).toBe('117.7%');
    expect(await page.locator('#profit-rule').textContent()).toMatch(/top 20 % by profit \(507\) make 80\.0% of the profit; the bottom 30 % \(761\) consume 50\.0% of it/);

    // Every number on the page matches the scorer's own /metrics.
    const exposition = await (await fetch(`${base}/metrics`)).text();
    for (const layer of layers) expect(Number(layer.customers)).toBe(metricValue(exposition, `pyramid_tier_customers{tier="${layer.tier}"}`));
    for (const partition of [0, 1, 2, 3]) {
      const row = page.locator(`#partitions-body tr[data-topic="transactions"][data-partition="${partition}"]`);
      const cell = row.locator('[data-field="lagMessages"]');
      const shown = Number((await cell.textContent())?.replace(/[^\d]/g, ''));
      const exact = Number(await cell.getAttribute('data-value'));
      const metric = metricValue(exposition, `pyramid_consumer_lag_messages{topic="transactions",partition="${partition}"}`);
      expect(exact).toBe(metric);
      expect(shown).toBe(metric);
      expect(Number(await row.locator('[data-field="lagSeconds"]').getAttribute('data-value'))).toBe(metricValue(exposition, `pyramid_consumer_lag_seconds{topic="transactions",partition="${partition}"}`));
    }
    expect(Number(await page.locator('#partitions-body tr[data-partition="1"] [data-field="lagMessages"]').getAttribute('data-value'))).toBe(1250);
    // The policy column: the version in force everywhere; on the switching partition the version
    // left and the re-evaluation progress, equal to pyramid_policy_reevaluation_progress_ratio.
    for (const partition of [0, 1, 2, 3]) {
      const row = page.locator(`#partitions-body tr[data-partition="${partition}"]`);
      expect(await row.locator('[data-field="policyVersion"]').getAttribute('data-value')).toBe('2026-12');
      expect(await row.locator('[data-field="switchingFrom"]').count()).toBe(partition === 2 ? 1 : 0);
    }
    const switching = page.locator('#partitions-body tr[data-partition="2"]');
    expect(await switching.locator('[data-field="switchingFrom"]').getAttribute('data-value')).toBe('2026-11');
    expect(Number(await switching.locator('[data-field="reevaluationRatio"]').getAttribute('data-value'))).toBe(
      metricValue(exposition, 'pyramid_policy_reevaluation_progress_ratio{topic="transactions",partition="2"}'),
    );
    expect(await switching.locator('[data-field="reevaluationRatio"]').textContent()).toBe('re-evaluated 25.0%');
    for (const reason of ['DECODE_FAILED', 'VALIDATION_FAILED']) {
      const shown = Number(await page.locator(`#dlq-body tr[data-reason="${reason}"] [data-field="dlqCount"]`).getAttribute('data-value'));
      expect(shown).toBe(metricValue(exposition, `pyramid_consumer_dlq_records_total{topic="transactions",reason="${reason}"}`));
    }
    expect(await page.locator('#changes li').count()).toBe(8);
    expect(await page.locator('#changes li').first().getAttribute('data-to')).toBe('major');
    await page.waitForSelector('#ready.ok');
    expect(await page.locator('#ready').textContent()).toBe('ready');
    expect(await page.locator('#checks-body tr[data-check="redis"]').getAttribute('data-ok')).toBe('true');

    // Live: a new lag report and a group loss reach the page without a reload.
    bus.emit('consumer.lag', { topic: 'transactions', partition: 1, messages: 0, seconds: 0 });
    await page.waitForSelector('#partitions-body tr[data-partition="1"] [data-field="lagMessages"][data-value="0"]');
    bus.emit('consumer.group_left', { groupId: 'scorers', reason: 'rebalancing' });
    await page.waitForSelector('#ready.bad');
    expect(await page.locator('#not-ready').textContent()).toContain('kafka-group: left scorers: rebalancing');
    expect(await page.locator('#checks-body tr[data-check="kafka-group"]').getAttribute('data-ok')).toBe('false');
    bus.emit('consumer.group_joined', { groupId: 'scorers', memberId: 'm-1', partitions: 4 });
    bus.emit('consumer.lag', { topic: 'transactions', partition: 1, messages: 1250, seconds: 25 });
    await page.waitForSelector('#ready.ok');
    await page.waitForSelector('#partitions-body tr[data-partition="1"] [data-field="lagMessages"][data-value="1250"]');
    // The switch finishes: the page drops the version left without a reload.
    bus.emit('policy.reevaluation', { topic: 'transactions', partition: 2, done: 64, of: 64, policyVersion: '2026-12', switchingFrom: null });
    await until(async () => (await page.locator('#partitions-body tr[data-partition="2"] [data-field="switchingFrom"]').count()) === 0);
    // And another partition starts switching, so the screenshot shows one mid-way.
    bus.emit('policy.reevaluation', { topic: 'transactions', partition: 3, done: 40, of: 64, policyVersion: '2026-12', switchingFrom: '2026-11' });
    await page.waitForSelector('#partitions-body tr[data-partition="3"] [data-field="reevaluationRatio"][data-value="0.625"]');
    // Relative tiers on the event clock: the coordinator's barrier names the partitions it waits on.
    bus.emit('ranking.barrier', { instant: Date.UTC(2026, 0, 5, 6), waiting: [1, 3] });
    await until(async () => ((await page.locator('#boundaries-note').textContent()) ?? '').includes('waits on partitions 1, 3'));
    bus.emit('ranking.barrier', { instant: Date.UTC(2026, 0, 5, 6), waiting: [] });
    await until(async () => !((await page.locator('#boundaries-note').textContent()) ?? '').includes('waits on'));
    await until(async () => Number(await page.locator('#tile-throughput').getAttribute('data-value')) > 0);
    // A few samples so the sparklines have a shape in the screenshot.
    await until(async () => ((await page.locator('.spark polyline').first().getAttribute('points')) ?? '').split(' ').length >= 6);

    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: new URL('status-page.png', ARTIFACTS).pathname, fullPage: true });

    expect(requested.filter((url) => !url.startsWith(`${base}/`))).toEqual([]);
    expect(problems).toEqual([]);
    await page.close();
  });
});
