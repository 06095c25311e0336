import type { CompiledPolicy, Condition } from '../policy/types.js';

/**
 * The compiled policy as the Lua engine reads it: short keys (it is decoded once per call), every
 * derived number precomputed here so the Lua does no arithmetic that could lose precision, and no
 * JSON nulls (cjson turns them into a sentinel that is easy to mistake for a value).
 */
export interface ScriptPolicy {
  /** Policy version. */
  v: string;
  /** Bucket length, ms. */
  B: number;
  /** Window length in buckets. */
  W: number;
  /** Inactivity horizon, ms; -1 when the policy has none. */
  ia: number;
  /** Inactive tier name; '' when none. */
  it: string;
  /** Fallback tier name. */
  fb: string;
  /** Downgrade grace, ms (0: none). */
  g: number;
  /** Ordered tiers; conditions as [metric m|f|r, op, value, value relaxed by the margin]. */
  t: { n: string; c: [string, string, number, number][] }[];
  /** Rank of every tier name the engine can assign (tiers, fallback, inactive). */
  rk: Record<string, number>;
  /** Index (1-based, Lua) into `t` of each tier's position; only tiers from `t`. */
  ti: Record<string, number>;
  /** For every tier name: 1-based index into `t` of the next higher-ranked tier, 0 at the top. */
  up: Record<string, number>;
  /** Human-readable rule text of every tier name. */
  rt: Record<string, string>;
  /** Rule text of the inactivity rule. */
  irt: string;
  /** Distinct recency condition values, ascending: each is a possible due offset. */
  rv: number[];
}

const METRIC_CODE = { monetary: 'm', frequency: 'f', recencyMs: 'r' } as const;
const OP_TEXT = { gt: '>', gte: '>=', lt: '<', lte: '<=' } as const;

/**
 * The rank of a tier name. A fallback or inactive tier the policy lists outside `tiers` ranks
 * below every listed tier (inactive lowest of all), as CompiledTier.rank documents.
 */
export function tierRanks(policy: CompiledPolicy): Record<string, number> {
  const ranks: Record<string, number> = {};
  for (const tier of policy.tiers) ranks[tier.name] = tier.rank;
  const lowest = Math.min(0, ...policy.tiers.map((t) => t.rank));
  if (ranks[policy.fallbackTier] === undefined) ranks[policy.fallbackTier] = lowest - 1;
  if (policy.inactiveTier !== null && ranks[policy.inactiveTier] === undefined) ranks[policy.inactiveTier] = lowest - 2;
  return ranks;
}

/** floor(value × (10000 − bps) / 10000), exact for any safe integer (BigInt, no double rounding). */
export function relaxMonetary(value: number, marginBps: number): number {
  const num = BigInt(value) * BigInt(10_000 - marginBps);
  const q = num / 10_000n;
  // BigInt division truncates toward zero; floor differs for negative non-multiples.
  return Number(num < 0n && q * 10_000n !== num ? q - 1n : q);
}

/** `12345` with 2 digits -> `123.45`; negative amounts keep their sign. */
export function formatMinor(amount: number, digits: number): string {
  const negative = amount < 0;
  const abs = Math.abs(amount).toString().padStart(digits + 1, '0');
  const text = digits === 0 ? abs : `${abs.slice(0, -digits)}.${abs.slice(-digits)}`;
  return negative ? `-${text}` : text;
}

/** The largest whole unit that divides `ms`: `180d`, `12h`, `90m`, `30s`, `250ms`. */
export function formatDuration(ms: number): string {
  const units: [string, number][] = [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]];
  for (const [unit, size] of units) if (ms !== 0 && ms % size === 0) return `${ms / size}${unit}`;
  return `${ms}ms`;
}

function describeCondition(policy: CompiledPolicy, condition: Condition): string {
  const op = OP_TEXT[condition.op];
  switch (condition.metric) {
    case 'monetary':
      return `monetary ${op} ${formatMinor(condition.value, policy.minorUnitDigits)} ${policy.currency}`;
    case 'frequency':
      return `frequency ${op} ${condition.value}`;
    case 'recencyMs':
      return `recency ${op} ${formatDuration(condition.value)}`;
  }
}

/** Build the Lua view of a policy. Pure; the store computes it once. */
export function toScriptPolicy(policy: CompiledPolicy): ScriptPolicy {
  const ranks = tierRanks(policy);
  const ti: Record<string, number> = {};
  policy.tiers.forEach((tier, i) => (ti[tier.name] = i + 1));
  const up: Record<string, number> = {};
  for (const name of Object.keys(ranks)) {
    let best = 0;
    policy.tiers.forEach((tier, i) => {
      const rank = ranks[name] ?? 0;
      const bestTier = policy.tiers[best - 1];
      if (tier.rank > rank && (bestTier === undefined || tier.rank < bestTier.rank)) best = i + 1;
    });
    up[name] = best;
  }
  const rt: Record<string, string> = {};
  for (const tier of policy.tiers) {
    rt[tier.name] = tier.conditions.length === 0 ? 'always' : tier.conditions.map((c) => describeCondition(policy, c)).join(' and ');
  }
  if (rt[policy.fallbackTier] === undefined) rt[policy.fallbackTier] = 'fallback: no tier matched';
  const irt = policy.inactivityMs === null ? '' : `inactive: no purchase for ${formatDuration(policy.inactivityMs)}`;
  if (policy.inactiveTier !== null && rt[policy.inactiveTier] === undefined) rt[policy.inactiveTier] = irt;
  const recency = new Set<number>();
  for (const tier of policy.tiers) for (const c of tier.conditions) if (c.metric === 'recencyMs') recency.add(c.value);
  const margin = policy.hysteresis.downgradeMarginBps;
  return {
    v: policy.version,
    B: policy.bucketMs,
    W: policy.windowMs / policy.bucketMs,
    ia: policy.inactivityMs ?? -1,
    it: policy.inactiveTier ?? '',
    fb: policy.fallbackTier,
    g: policy.hysteresis.downgradeGraceMs,
    t: policy.tiers.map((tier) => ({
      n: tier.name,
      c: tier.conditions.map((c): [string, string, number, number] => {
        const relaxed = c.metric === 'monetary' && (c.op === 'gt' || c.op === 'gte') ? relaxMonetary(c.value, margin) : c.value;
        return [METRIC_CODE[c.metric], c.op, c.value, relaxed];
      }),
    })),
    rk: ranks,
    ti,
    up,
    rt,
    irt,
    rv: [...recency].sort((a, b) => a - b),
  };
}
