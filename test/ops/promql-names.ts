import { parser } from '@prometheus-io/lezer-promql';

/**
 * Which metric names a Grafana dashboard queries, and whether an exposition has them. Shared by
 * the dashboard test here and by end-to-end checks against a running scorer's /metrics.
 */

/**
 * Metric names selected by one PromQL expression, read with Prometheus's own grammar
 * (@prometheus-io/lezer-promql, the parser of the Prometheus UI), so a query that Prometheus
 * would reject fails here too. Grafana's interval variables ($__range, $__rate_interval, ...)
 * are replaced by a duration first, as Grafana does before sending the query.
 */
export function promqlMetricNames(expr: string): string[] {
  const query = expr.replace(/\$__\w+/g, '5m');
  const tree = parser.parse(query);
  const names = new Set<string>();
  const errors: number[] = [];
  tree.iterate({
    enter: (node) => {
      if (node.type.isError) errors.push(node.from);
      if (node.name === 'Identifier' && node.node.parent?.name === 'VectorSelector') names.add(query.slice(node.from, node.to));
    },
  });
  if (errors.length > 0) throw new Error(`PromQL syntax error at offset ${errors[0]} in: ${expr}`);
  return [...names];
}

/** Every PromQL expression of a dashboard: panel targets (rows included) and query variables. */
export function dashboardExpressions(dashboard: unknown): string[] {
  const exprs: string[] = [];
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(visit);
    if (node === null || typeof node !== 'object') return;
    const record = node as Record<string, unknown>;
    if (typeof record.expr === 'string') exprs.push(record.expr);
    // label_values(metric, label) in template variables names a metric too.
    if (typeof record.query === 'string') {
      const lv = /label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(record.query);
      if (lv?.[1]) exprs.push(lv[1]);
    }
    Object.values(record).forEach(visit);
  };
  visit(dashboard);
  return exprs;
}

/** `# TYPE` lines of a Prometheus text exposition: metric family name → type. */
export function exposedFamilies(exposition: string): Map<string, string> {
  const families = new Map<string, string>();
  for (const m of exposition.matchAll(/^# TYPE (\S+) (\S+)$/gm)) families.set(m[1] ?? '', m[2] ?? '');
  return families;
}

/**
 * Whether a name PromQL can select exists in the exposition. `_bucket` is only valid on a
 * histogram family, `_sum` / `_count` on a histogram or summary: a gauge named `x` has no
 * `x_count`, and a counter `x_count` is its own family.
 */
export function isExposed(name: string, families: Map<string, string>): boolean {
  if (families.has(name)) return true;
  const suffix = /^(.*)_(bucket|sum|count)$/.exec(name);
  if (!suffix) return false;
  const type = families.get(suffix[1] ?? '');
  return suffix[2] === 'bucket' ? type === 'histogram' : type === 'histogram' || type === 'summary';
}

/** Names a dashboard queries that the exposition lacks; empty when the dashboard can work. */
export function missingDashboardMetrics(dashboard: unknown, exposition: string): string[] {
  const families = exposedFamilies(exposition);
  const names = new Set(dashboardExpressions(dashboard).flatMap(promqlMetricNames));
  return [...names].filter((name) => !isExposed(name, families)).sort();
}
