import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Bucket } from '../../src/engine/types.js';
import { parsePolicy } from '../../src/policy/parse.js';
import type { CompiledPolicy } from '../../src/policy/types.js';

export const DAY = 86_400_000;

/** Path of a shipped policy file. */
export function shippedPolicyPath(name: string): string {
  return fileURLToPath(new URL(`../../policies/${name}.yaml`, import.meta.url));
}

/** A shipped policy, compiled. */
export function shippedPolicy(name: 'default' | 'frequency' | 'value-loyalty' | 'bank-cards' | 'pyramid-share' | 'rfm-segments'): CompiledPolicy {
  const path = shippedPolicyPath(name);
  return parsePolicy(readFileSync(path, 'utf8'), path);
}

/** The same policy with hysteresis replaced (defaults: none). */
export function withHysteresis(policy: CompiledPolicy, graceMs = 0, marginBps = 0): CompiledPolicy {
  return { ...policy, hysteresis: { downgradeGraceMs: graceMs, downgradeMarginBps: marginBps } };
}

/** Buckets from `[index, m, f]` triples, ascending as the engine keeps them (same index: summed). */
export function bucketsOf(...entries: [number, number, number][]): Bucket[] {
  const byIndex = new Map<number, Bucket>();
  for (const [index, monetary, frequency] of entries) {
    const b = byIndex.get(index);
    byIndex.set(index, b === undefined ? { index, monetary, frequency } : { index, monetary: b.monetary + monetary, frequency: b.frequency + frequency });
  }
  return [...byIndex.values()].sort((a, b) => a.index - b.index);
}
