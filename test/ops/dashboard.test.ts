import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { Instrumentation } from '../../src/instrumentation.js';
import { createMetrics } from '../../src/ops/metrics.js';
import { dashboardExpressions, exposedFamilies, isExposed, missingDashboardMetrics, promqlMetricNames } from './promql-names.js';

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');

interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  targets?: { expr: string }[];
}

async function exposition(): Promise<string> {
  const metrics = createMetrics(new Instrumentation());
  try {
    return await metrics.registry.metrics();
  } finally {
    metrics.close();
  }
}

describe('PromQL metric name extraction', () => {
  it('finds metric names and skips functions, labels, keywords, strings and variables', () => {
    expect(promqlMetricNames('histogram_quantile(0.99, sum by (le, stage) (rate(pyramid_consumer_stage_duration_seconds_bucket{instance=~"$instance",topic=~"a_b"}[5m])))')).toEqual([
      'pyramid_consumer_stage_duration_seconds_bucket',
    ]);
    expect(promqlMetricNames('sum(increase(a_total[$__range])) / on (x) group_left sum without (y) (b) > bool 0 offset 5m')).toEqual(['a_total', 'b']);
  });

  it('rejects what Prometheus would reject', () => {
    expect(() => promqlMetricNames('sum(rate(pyramid_consumer_lag_messages[5m])')).toThrow(/PromQL syntax error/);
    expect(() => promqlMetricNames('sum by (topic) pyramid_consumer_lag_messages')).toThrow(/PromQL syntax error/);
  });

  it('accepts histogram suffixes only on histograms', () => {
    const families = exposedFamilies('# TYPE h histogram\n# TYPE g gauge\n# TYPE c_count counter\n# TYPE s summary\n');
    expect(isExposed('h_bucket', families)).toBe(true);
    expect(isExposed('h_count', families)).toBe(true);
    expect(isExposed('s_sum', families)).toBe(true);
    expect(isExposed('s_bucket', families)).toBe(false);
    expect(isExposed('g_count', families)).toBe(false);
    expect(isExposed('c_count', families)).toBe(true);
    expect(isExposed('c', families)).toBe(false);
  });
});

describe('Grafana dashboard', () => {
  const dashboard = JSON.parse(read('deploy/grafana/dashboards/pyramid.json')) as { uid: string; panels: Panel[]; templating: { list: { name: string; current?: { value?: string } }[] } };

  it('queries only metrics the scorer exposes', async () => {
    const text = await exposition();
    expect(missingDashboardMetrics(dashboard, text)).toEqual([]);
    // The check bites: a misspelt metric is reported.
    expect(missingDashboardMetrics({ panels: [{ targets: [{ expr: 'sum(pyramid_consumer_lag_message)' }] }] }, text)).toEqual(['pyramid_consumer_lag_message']);
  });

  it('covers what operators asked for', () => {
    const names = new Set(dashboardExpressions(dashboard).flatMap(promqlMetricNames));
    for (const name of [
      'pyramid_consumer_lag_messages',
      'pyramid_consumer_lag_seconds',
      'pyramid_consumer_committed_lag_messages',
      'pyramid_consumer_committed_lag_seconds',
      'pyramid_consumer_crashes_total',
      'pyramid_consumer_records_processed_total',
      'pyramid_consumer_dlq_records_total',
      'pyramid_tier_changes_total',
      'pyramid_consumer_stage_duration_seconds_bucket',
      'pyramid_consumer_end_to_end_latency_seconds_bucket',
      'pyramid_outbox_pending_records',
      'pyramid_consumer_rebalances_total',
      'pyramid_redis_script_errors_total',
    ]) {
      expect(names, name).toContain(name);
    }
    const exprs = dashboardExpressions(dashboard);
    expect(exprs.some((e) => e.includes('histogram_quantile(0.5,') && e.includes('stage_duration'))).toBe(true);
    expect(exprs.some((e) => e.includes('histogram_quantile(0.99,') && e.includes('stage_duration'))).toBe(true);
  });

  it('has unique panel ids, panels inside the 24-column grid, and a query on every non-row panel', () => {
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const panel of dashboard.panels) {
      expect(panel.gridPos.x + panel.gridPos.w, panel.title).toBeLessThanOrEqual(24);
      if (panel.type !== 'row') expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
    }
  });

  it('is provisioned from the path Grafana reads, on the data source provisioned for it', () => {
    const datasources = parse(read('deploy/grafana/provisioning/datasources/prometheus.yml')) as { datasources: { uid: string; type: string; url: string }[] };
    const providers = parse(read('deploy/grafana/provisioning/dashboards/pyramid.yml')) as { providers: { type: string; options: { path: string } }[] };
    const datasourceVar = dashboard.templating.list.find((v) => v.name === 'datasource');
    expect(datasources.datasources.map((d) => d.uid)).toContain(datasourceVar?.current?.value);
    expect(datasources.datasources[0]).toMatchObject({ type: 'prometheus', url: 'http://prometheus:9090' });
    expect(providers.providers[0]).toMatchObject({ type: 'file', options: { path: '/var/lib/grafana/dashboards' } });
  });
});

describe('README Operations section', () => {
  it('documents every pyramid metric the scorer exposes, and no other', async () => {
    const readme = read('README.md');
    const section = readme.slice(readme.indexOf('- **Metrics**'), readme.indexOf('- **Health**'));
    const documented = new Set(
      section
        .split('\n')
        .filter((line) => line.trimStart().startsWith('| `'))
        .flatMap((line) => [...(line.split('|')[1] ?? '').matchAll(/`([a-z_]+)`/g)].map((m) => `pyramid_${m[1]}`)),
    );
    // Node and process metrics (collectDefaultMetrics) are documented as a group.
    const own = [...exposedFamilies(await exposition()).keys()].filter((name) => !/^pyramid_(process|nodejs)_/.test(name));
    expect(own.filter((name) => !documented.has(name))).toEqual([]);
    expect([...documented].filter((name) => !own.includes(name))).toEqual([]);
  });
});

describe('Prometheus scrape config', () => {
  it('scrapes the pyramid service on 9464 at /metrics', () => {
    const config = parse(read('deploy/prometheus/prometheus.yml')) as {
      scrape_configs: { job_name: string; metrics_path?: string; dns_sd_configs?: { names: string[]; port: number }[] }[];
    };
    const job = config.scrape_configs.find((j) => j.job_name === 'pyramid');
    expect(job?.metrics_path).toBe('/metrics');
    expect(job?.dns_sd_configs?.[0]).toMatchObject({ names: ['pyramid'], port: 9464 });
  });

  it('loads the shipped alert rules, mounted next to it by docker-compose.yml', () => {
    const config = parse(read('deploy/prometheus/prometheus.yml')) as { rule_files?: string[] };
    expect(config.rule_files).toEqual(['alerts.yml']);
    const compose = parse(read('docker-compose.yml')) as { services: { prometheus: { volumes: string[] } } };
    expect(compose.services.prometheus.volumes).toContain('./deploy/prometheus/alerts.yml:/etc/prometheus/alerts.yml:ro');
  });
});
