import { rankOf, relaxedBound } from '../policy/evaluate.js';
import { ruleText } from '../policy/describe.js';
import type { CompiledPolicy } from '../policy/types.js';

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
  /**
   * Ordered tiers; conditions as [metric m|f|r, op, value, value relaxed by the margin]; x = 1 for
   * a relative tier, which the absolute evaluation never matches (see CompiledTier.relative).
   */
  t: { n: string; x: 0 | 1; c: [string, string, number, number][] }[];
  /** Rank of every tier name the engine can assign (tiers, fallback, inactive), per rankOf. */
  rk: Record<string, number>;
  /** Index (1-based, Lua) into `t` of each tier's position; only tiers from `t`. */
  ti: Record<string, number>;
  /** For every tier name: 1-based index into `t` of the next tier up for headroom, 0 when none. */
  up: Record<string, number>;
  /** Distinct recency condition values, ascending: each is a possible due offset. */
  rv: number[];
  /**
   * JSON-encoded strings for the outbox record: tier names (n), boundary rule texts (r, from
   * src/policy ruleText), the version (v). The engine only splices them into the record, so only
   * the encoded form travels.
   */
  j: { n: Record<string, string>; r: Record<string, string>; v: string };
}

const METRIC_CODE = { monetary: 'm', frequency: 'f', recencyMs: 'r' } as const;

/** Build the Lua view of a policy. Pure; the store computes it once. */
export function toScriptPolicy(policy: CompiledPolicy): ScriptPolicy {
  const names = policy.tiers.map((tier) => tier.name);
  names.push(policy.fallbackTier);
  if (policy.inactiveTier !== null) names.push(policy.inactiveTier);
  const rk: Record<string, number> = {};
  for (const name of names) rk[name] = rankOf(policy, name) ?? 0;
  const ti: Record<string, number> = {};
  policy.tiers.forEach((tier, i) => (ti[tier.name] = i + 1));
  // Ranks follow the order of `tiers`, so the next tier up of tiers[i] is tiers[i - 1] and that
  // of the fallback is the last listed tier; nothing is "up" from the inactive tier by spend.
  const up: Record<string, number> = {};
  for (const name of names) {
    const index = name === policy.fallbackTier ? policy.tiers.length + 1 : (ti[name] ?? 0);
    const next = index > 1 ? policy.tiers[index - 2] : undefined;
    up[name] = next === undefined || next.relative !== undefined || name === policy.inactiveTier ? 0 : index - 1;
  }
  const recency = new Set<number>();
  for (const tier of policy.tiers) for (const c of tier.conditions) if (c.metric === 'recencyMs') recency.add(c.value);
  const margin = policy.hysteresis.downgradeMarginBps;
  return {
    v: policy.version,
    B: policy.bucketMs,
    W: policy.windowMs / policy.bucketMs,
    ia: policy.inactivityMs !== null && policy.inactiveTier !== null ? policy.inactivityMs : -1,
    it: policy.inactiveTier ?? '',
    fb: policy.fallbackTier,
    g: policy.hysteresis.downgradeGraceMs,
    t: policy.tiers.map((tier) => ({
      n: tier.name,
      x: tier.relative === undefined ? 0 : 1,
      c: tier.conditions.map((c): [string, string, number, number] => {
        const relaxed = c.metric === 'monetary' && (c.op === 'gt' || c.op === 'gte') ? relaxedBound(c.value, margin) : c.value;
        return [METRIC_CODE[c.metric], c.op, c.value, relaxed];
      }),
    })),
    rk,
    ti,
    up,
    rv: [...recency].sort((a, b) => a - b),
    j: {
      n: Object.fromEntries(names.map((name) => [name, JSON.stringify(name)])),
      r: Object.fromEntries(names.map((name) => [name, JSON.stringify(ruleText(policy, name))])),
      v: JSON.stringify(policy.version),
    },
  };
}
