/**
 * Which metric names a Grafana dashboard queries, and whether an exposition has them. Shared by
 * the dashboard test here and by end-to-end checks against a running scorer's /metrics.
 */

const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset', 'inf', 'nan']);

/** Metric names referenced in one PromQL expression (functions, labels and keywords excluded). */
export function promqlMetricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, ' ') // string literals (label values, regexes)
    .replace(/\{[^}]*\}/g, ' ') // label matchers
    .replace(/\[[^\]]*\]/g, ' ') // range selectors, $__range included
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ') // label lists
    .replace(/\$\w+/g, ' '); // Grafana variables
  const names = new Set<string>();
  // The lookbehind keeps duration units (5m) and number exponents from reading as names.
  for (const match of stripped.matchAll(/(?<![\w.])[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const rest = stripped.slice((match.index ?? 0) + match[0].length);
    if (/^\s*\(/.test(rest) || KEYWORDS.has(match[0].toLowerCase())) continue; // a function call or keyword
    names.add(match[0]);
  }
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
