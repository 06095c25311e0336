import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startScorerOps, type ScorerOps } from '../../src/cli/ops-wiring.js';
import { startDevStack, type DevStackHandle } from '@pyramid/devstack';
import { Instrumentation } from '../../src/instrumentation.js';
import type { OutgoingRecord } from '../../src/kafka/types.js';
import { silentLogger } from '../../src/logger.js';
import { createScorer, type Scorer } from '../../src/pipeline/scorer.js';
import { createTopics, testConfig, testKafka, uniqueNames } from '../e2e/support.js';
import { promtool, startPrometheus, type PrometheusHandle } from '../helpers/prometheus.js';
import { pollUntil } from './live-support.js';
import { dashboardExpressions, promqlMetricNames } from './promql-names.js';

const ALERTS = fileURLToPath(new URL('../../deploy/prometheus/alerts.yml', import.meta.url));
const ALERT_TESTS = fileURLToPath(new URL('../../deploy/prometheus/alerts.test.yml', import.meta.url));
const DASHBOARD = JSON.parse(readFileSync(new URL('../../deploy/grafana/dashboards/pyramid.json', import.meta.url), 'utf8')) as unknown;
const DAY = 86_400_000;

/** Metric families whose dashboard panels must show data from a scorer that has scored records. */
const MUST_HAVE_DATA = ['pyramid_consumer_lag_messages', 'pyramid_consumer_lag_seconds', 'pyramid_consumer_records_processed_total', 'pyramid_tier_changes_total', 'pyramid_tier_customers'];

interface RulesData {
  groups: { name: string; file: string; rules: { name: string; type: string; health: string; lastError?: string; state?: string }[] }[];
}
type Vector = { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] };

/**
 * Grafana's variables replaced as Grafana would for this one-scorer setup: the time variables by
 * durations that hold several 1 s scrapes, `$topic` by the test's topic, the rest ("All") by `.*`.
 */
function substitute(expr: string, topic: string): string {
  return expr
    .replace(/\$__rate_interval|\$\{__rate_interval\}/g, '30s')
    .replace(/\$__range|\$\{__range\}/g, '5m')
    .replace(/\$__interval|\$\{__interval\}/g, '5s')
    .replace(/\$topic|\$\{topic\}/g, topic)
    .replace(/\$\{?\w+\}?/g, '.*');
}

function transactions(count: number, partition: number, from: number): OutgoingRecord[] {
  return Array.from({ length: count }, (_, k) => {
    const i = from + k;
    return {
      partition,
      key: `c-${i % 9}`,
      value: JSON.stringify({ transactionId: `t-${i}`, customerId: `c-${i % 9}`, kind: 'PURCHASE', amountMinor: 250_000 * (1 + (i % 4)), currency: 'CNY', eventTime: Date.now() - DAY + i }),
    };
  });
}

describe('alert rules', () => {
  it('pass `promtool check rules` and their unit tests (`promtool test rules`)', async () => {
    const check = await promtool(['check', 'rules', ALERTS]);
    expect(check.code, check.output).toBe(0);
    expect(check.output).toMatch(/SUCCESS: 5 rules found/);
    const tests = await promtool(['test', 'rules', ALERT_TESTS]);
    expect(tests.code, tests.output).toBe(0);
  });
});

/**
 * Debian's Prometheus scraping a live scorer (embedded broker, real redis-server, the ops wiring
 * of `pyramid run`) every second, with the shipped alert rules loaded: the rules load and
 * evaluate without error, and every Grafana dashboard query runs against the scraped data.
 */
describe('Prometheus against a live scorer', () => {
  let stack: DevStackHandle;
  let scorer: Scorer | undefined;
  let ops: ScorerOps | undefined;
  let prometheus: PrometheusHandle | undefined;
  const names = uniqueNames('prom');
  const topic = names.transactions;

  beforeAll(async () => {
    stack = await startDevStack({ brokerPort: 0, registryPort: 0 });
    await createTopics(stack.brokers, [topic], 2);
    const producer = testKafka(stack.brokers).createProducer();
    // Purchases that classify customers (tier changes) and one record that is not JSON (a DLQ series).
    await producer.send(topic, [...transactions(20, 0, 0), ...transactions(20, 1, 100), { partition: 1, key: 'bad', value: '{not json' }]);
    await producer.disconnect();
    scorer = createScorer(testConfig({ brokers: stack.brokers, redisUrl: inject('redisUrl'), names }), { instrumentation: new Instrumentation(), tuning: { lagIntervalMs: 500 } });
    ops = await startScorerOps({ scorer, port: 0, censusIntervalMs: 1_000, logger: silentLogger });
    await scorer.start();
    ops.scorerStarted();
    prometheus = await startPrometheus({ target: `127.0.0.1:${ops.port}`, ruleFiles: [ALERTS] });
  }, 60_000);
  afterAll(async () => {
    await prometheus?.stop();
    await scorer?.stop();
    await ops?.close();
    await stack?.close();
  });

  const query = async (expr: string) => (prometheus as PrometheusHandle).api<Vector>(`query?query=${encodeURIComponent(expr)}`);

  it('loads the shipped alert rules and evaluates every one of them without error', async () => {
    const p = prometheus as PrometheusHandle;
    const runtime = await p.api<{ reloadConfigSuccess: boolean }>('status/runtimeinfo');
    expect(runtime.data.reloadConfigSuccess).toBe(true);
    const config = await p.api<{ yaml: string }>('status/config');
    expect((parse(config.data.yaml) as { rule_files: string[] }).rule_files).toEqual([ALERTS]);

    const shipped = (parse(readFileSync(ALERTS, 'utf8')) as { groups: { rules: { alert: string }[] }[] }).groups.flatMap((g) => g.rules.map((r) => r.alert));
    let rules: RulesData['groups'][number]['rules'] = [];
    // Health is "unknown" until a rule's first evaluation, one interval after loading.
    const evaluated = await pollUntil(async () => {
      const answer = await p.api<RulesData>('rules');
      rules = answer.data.groups.filter((g) => g.file === ALERTS).flatMap((g) => g.rules);
      return rules.length === shipped.length && rules.every((r) => r.health !== 'unknown');
    }, 20_000);
    expect(evaluated, JSON.stringify(rules)).toBe(true);
    expect(rules.map((r) => r.name).sort()).toEqual([...shipped].sort());
    expect(rules.filter((r) => r.health !== 'ok' || (r.lastError ?? '') !== '')).toEqual([]);
  });

  it('scrapes pyramid_ready 1 from the ready scorer, and its not-ready alert stays quiet', async () => {
    expect(await pollUntil(async () => (await query('pyramid_ready')).data.result[0]?.value[1] === '1', 20_000)).toBe(true);
    expect((await query('up{job="pyramid"}')).data.result.map((r) => r.value[1])).toEqual(['1']);
    expect((await query('ALERTS{alertname=~"PyramidScorerNotReady|PyramidScorerDown"}')).data.result).toEqual([]);
  });

  it('answers every Grafana dashboard query without error, with lag, throughput and tier series present', async () => {
    const exprs = [...new Set(dashboardExpressions(DASHBOARD))];
    expect(exprs.length).toBeGreaterThan(20);
    const mustHaveData = exprs.filter((e) => promqlMetricNames(e).some((n) => MUST_HAVE_DATA.includes(n)));
    // Each of those families is queried by some panel; otherwise the check below would be vacuous.
    for (const name of MUST_HAVE_DATA) expect(mustHaveData.some((e) => promqlMetricNames(e).includes(name)), name).toBe(true);

    // rate() over 30 s needs two scrapes of a counter, the census a first run: wait for them.
    const empty = async (): Promise<string[]> => {
      const out: string[] = [];
      for (const e of mustHaveData) if ((await query(substitute(e, topic))).data.result.length === 0) out.push(e);
      return out;
    };
    let missing: string[] = [];
    const filled = await pollUntil(async () => (missing = await empty()).length === 0, 30_000, 500);
    expect(filled, `dashboard queries still empty:\n${missing.join('\n')}`).toBe(true);

    const failures: string[] = [];
    for (const e of exprs) {
      const answer = await query(substitute(e, topic));
      if (answer.status !== 'success') failures.push(`${e}: ${answer.errorType ?? ''} ${answer.error ?? ''}`);
    }
    expect(failures).toEqual([]);
    // The scraped values are the scorer's: 40 scored records, one dead-lettered.
    const scored = await query(`sum(pyramid_consumer_records_processed_total{topic="${topic}",outcome="scored"})`);
    expect(scored.data.result[0]?.value[1]).toBe('40');
    const dlq = await query(`sum(pyramid_consumer_dlq_records_total{topic="${topic}"})`);
    expect(dlq.data.result[0]?.value[1]).toBe('1');
  });
});
