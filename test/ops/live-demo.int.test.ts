import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testKafka } from '../e2e/support.js';
import { family, httpGet, parseExposition, pollUntil, sampleValue, spawnDemo, type DemoProcess } from './live-support.js';
import { dashboardExpressions, missingDashboardMetrics } from './promql-names.js';

/** Debian's chromium; CI installs it (apt-get install chromium). */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const ARTIFACTS = new URL('../../test-artifacts/', import.meta.url);
const PARTITIONS = 3;
/** Records no Avro decoder accepts (no Confluent wire-format frame): each must be dead-lettered. */
const POISON = [
  { partition: 1, key: 'poison-1', value: 'not avro' },
  { partition: 1, key: 'poison-2', value: '{"json":"but the demo reads avro"}' },
  { partition: 2, key: 'poison-3', value: Buffer.from([0x00, 0x00, 0x00, 0xff, 0xff]) },
];

/**
 * The operator surface of a REAL running `pyramid demo` (embedded broker and registry, private
 * redis-server, simulator, scorer): once the synthetic bank has sent a fixed number of
 * transactions, a few poison records are dead-lettered and the scorer has caught up, nothing
 * moves any more (the policy's windows are a year and 180 days, the demo's events are a month
 * old), so the page and /metrics must agree exactly.
 */
describe('live demo: status page and dashboard against /metrics', () => {
  let demo: DemoProcess;
  let base: string;
  let brokers: string[];
  let sent: number;
  let browser: Browser | undefined;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: apt-get install -y chromium (or set CHROMIUM_PATH)`);
    demo = spawnDemo(['--port', '0', '--count', '3000', '--rate', '3000', '--customers', '400', '--partitions', String(PARTITIONS), '--duration', '170']);
    const [, broker] = await demo.waitForLine(/^pyramid demo: broker (\S+), registry/, 30_000);
    brokers = broker!.split(',');
    const [, url] = await demo.waitForLine(/^status page: (http:\/\/127\.0\.0\.1:\d+)\//, 30_000);
    base = url!;
    const [, count] = await demo.waitForLine(/^synthetic bank: finished after (\d+) transactions/, 60_000);
    sent = Number(count);

    const producer = testKafka(brokers).createProducer();
    await producer.send('transactions', POISON);
    await producer.disconnect();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    const code = await demo?.stop();
    // SIGTERM is a clean stop for the demo: it closes its stack and its redis-server child.
    expect(code).toBe(0);
  }, 30_000);

  it('shows the pyramid, per-partition lag and DLQ counts exactly as /metrics has them once the stream is consumed', async () => {
    const lagSeries = Array.from({ length: PARTITIONS }, (_, p) => `pyramid_consumer_lag_messages{topic="transactions",partition="${p}"}`);
    const processedTotal = (samples: Map<string, number>): number =>
      [...family(samples, 'pyramid_consumer_records_processed_total', (s) => s.includes('topic="transactions"')).values()].reduce((a, b) => a + b, 0);

    // Quiescent: every record (simulated and poison) processed and the lag measured 0 everywhere.
    let quiescentAt = 0;
    const caughtUp = await pollUntil(async () => {
      const samples = parseExposition((await httpGet(`${base}/metrics`)).body);
      const ok = processedTotal(samples) === sent + POISON.length && lagSeries.every((s) => samples.get(s) === 0);
      if (ok) quiescentAt = Date.now();
      return ok;
    }, 30_000);
    expect(caughtUp, 'the demo scorer did not consume every record with lag 0').toBe(true);
    // Two censuses received after that point: the second began after the first arrived, so it
    // counted the final state (a census in flight at the quiescent point may have been older).
    let firstCensus = 0;
    const censused = await pollUntil(async () => {
      const status = JSON.parse((await httpGet(`${base}/status.json`)).body) as { pyramid: { receivedAt: number } | null };
      const at = status.pyramid?.receivedAt ?? 0;
      if (firstCensus === 0 && at > quiescentAt) firstCensus = at;
      return firstCensus !== 0 && at > firstCensus;
    }, 15_000);
    expect(censused, 'no fresh census after the stream was consumed').toBe(true);
    const before = (await httpGet(`${base}/metrics`)).body;
    const samples = parseExposition(before);
    const censusAt = (JSON.parse((await httpGet(`${base}/status.json`)).body) as { pyramid: { receivedAt: number } }).pyramid.receivedAt;

    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS });
    const page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
    const problems: string[] = [];
    page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
    page.on('console', (msg) => {
      if (msg.type() === 'error' || msg.type() === 'warning') problems.push(`console ${msg.type()}: ${msg.text()}`);
    });
    await page.goto(`${base}/`);
    // The page shows data generated after the final census, i.e. the state /metrics was read in.
    expect(await pollUntil(async () => Number(await page.locator('body').getAttribute('data-generated-at')) > censusAt, 15_000)).toBe(true);
    await page.waitForSelector('#pyramid g[data-tier]');

    // The pyramid: one layer per tier /metrics counts, with the same customer counts.
    const tierMetrics = family(samples, 'pyramid_tier_customers');
    const shownTiers = new Map<string, number>();
    for (const g of await page.locator('#pyramid g[data-tier]').all()) {
      shownTiers.set((await g.getAttribute('data-tier')) ?? '', Number(await g.locator('[data-field="customers"]').getAttribute('data-value')));
    }
    expect(shownTiers.size).toBeGreaterThanOrEqual(2);
    expect(new Map([...shownTiers].map(([tier, n]) => [`pyramid_tier_customers{tier="${tier}"}`, n]))).toEqual(tierMetrics);
    const customers = [...shownTiers.values()].reduce((a, b) => a + b, 0);
    expect(customers).toBeGreaterThan(0);
    expect(customers).toBeLessThanOrEqual(400);
    expect(Number(await page.locator('#tile-customers').getAttribute('data-value'))).toBe(customers);

    // Lag per partition, messages and seconds, as /metrics has it.
    const rows = page.locator('#partitions-body tr[data-topic="transactions"]');
    expect(await rows.count()).toBe(PARTITIONS);
    for (let p = 0; p < PARTITIONS; p++) {
      const row = page.locator(`#partitions-body tr[data-topic="transactions"][data-partition="${p}"]`);
      expect(Number(await row.locator('[data-field="lagMessages"]').getAttribute('data-value'))).toBe(
        sampleValue(samples, `pyramid_consumer_lag_messages{topic="transactions",partition="${p}"}`),
      );
      expect(Number(await row.locator('[data-field="lagSeconds"]').getAttribute('data-value'))).toBe(
        sampleValue(samples, `pyramid_consumer_lag_seconds{topic="transactions",partition="${p}"}`),
      );
    }

    // Dead letters per reason: the poison records, as /metrics counts them.
    const dlqMetrics = family(samples, 'pyramid_consumer_dlq_records_total', (s) => s.includes('topic="transactions"'));
    const shownDlq = new Map<string, number>();
    for (const row of await page.locator('#dlq-body tr[data-reason]').all()) {
      shownDlq.set(`pyramid_consumer_dlq_records_total{topic="transactions",reason="${await row.getAttribute('data-reason')}"}`, Number(await row.locator('[data-field="dlqCount"]').getAttribute('data-value')));
    }
    expect(shownDlq).toEqual(dlqMetrics);
    expect([...dlqMetrics.values()].reduce((a, b) => a + b, 0)).toBe(POISON.length);
    expect(Number(await page.locator('#dlq-total').getAttribute('data-value'))).toBe(POISON.length);

    await page.waitForSelector('#ready.ok');
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: new URL('status-page-live.png', ARTIFACTS).pathname, fullPage: true });
    expect(problems).toEqual([]);
    await page.close();

    // Still quiescent: the numbers compared were not moving.
    const after = parseExposition((await httpGet(`${base}/metrics`)).body);
    for (const series of [...tierMetrics.keys(), ...dlqMetrics.keys(), ...lagSeries]) expect(after.get(series), series).toBe(samples.get(series));
  }, 90_000);

  it('every metric the Grafana dashboard queries exists in the running demo scorer /metrics', async () => {
    const dashboard: unknown = JSON.parse(readFileSync(new URL('../../deploy/grafana/dashboards/pyramid.json', import.meta.url), 'utf8'));
    const exposition = (await httpGet(`${base}/metrics`)).body;
    expect(dashboardExpressions(dashboard).length).toBeGreaterThan(5);
    expect(exposition).toContain('pyramid_consumer_records_processed_total{');
    expect(missingDashboardMetrics(dashboard, exposition)).toEqual([]);
  });
});
