import { describe, expect, it } from 'vitest';
import { parsePolicy } from '../../src/policy/parse.js';
import { toScriptPolicy } from '../../src/state/script-policy.js';
import { testPolicy } from './fixtures.js';

describe('toScriptPolicy', () => {
  it('ranks the fallback and inactive tiers by name and points each tier at its next tier up', () => {
    const sp = toScriptPolicy(testPolicy());
    expect(sp.rk).toEqual({ vip: 5, major: 4, medium: 3, small: 2, other: 1, inactive: 0 });
    // tiers are 1-based in Lua: vip has nothing above it, the fallback looks up to the last tier.
    expect(sp.up).toEqual({ vip: 0, major: 1, medium: 2, small: 3, other: 4, inactive: 0 });
    expect(sp.W).toBe(10);
    expect(sp.rv).toEqual([50]);
  });

  it('precomputes margin-relaxed monetary lower bounds and leaves other bounds alone', () => {
    const sp = toScriptPolicy(testPolicy({ hysteresis: { downgradeGraceMs: 0, downgradeMarginBps: 500 } }));
    expect(sp.t[0]?.c).toEqual([['m', 'gte', 1000, 950]]);
    expect(sp.t[3]?.c).toEqual([['m', 'lt', 5000, 5000]]);
  });

  it('carries the loader rule texts JSON-encoded for the outbox record', () => {
    const policy = parsePolicy(
      [
        'version: "v1"',
        'name: p',
        'currency: CNY',
        'window: 365d',
        'bucket: 1d',
        'inactivity: { after: 180d, tier: inactive }',
        'tiers:',
        '  - name: vip',
        '    when: { monetary: { gt: "58900" } }',
        'fallback: rest',
      ].join('\n'),
      'inline.yaml',
    );
    const sp = toScriptPolicy(policy);
    expect(JSON.parse(sp.j.r.vip ?? '')).toBe('monetary > 58900.00 CNY');
    expect(JSON.parse(sp.j.r.inactive ?? '')).toBe('inactive: no purchase for 180d');
    expect(sp.ia).toBe(180 * 86_400_000);
  });
});
