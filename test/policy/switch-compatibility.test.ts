import { describe, expect, it } from 'vitest';
import { isPyramidError } from '../../src/errors.js';
import { assertSwitchable } from '../../src/policy/switch-compatibility.js';
import { shippedPolicy } from './fixtures.js';

describe('assertSwitchable', () => {
  const inForce = shippedPolicy('default');

  it('accepts new rules, window, inactivity and hysteresis on the same currency and bucket', () => {
    const next = { ...inForce, version: 'next', windowMs: inForce.windowMs / 2, inactivityMs: null, inactiveTier: null, hysteresis: { downgradeGraceMs: 0, downgradeMarginBps: 0 } };
    expect(() => assertSwitchable(inForce, next, 'next.yaml')).not.toThrow();
  });

  it('refuses another currency or bucket length, naming the field and both values', () => {
    const euro = (() => {
      try {
        assertSwitchable(inForce, { ...inForce, version: 'eur', currency: 'EUR' }, 'eur.yaml');
      } catch (err) {
        return err;
      }
      return undefined;
    })();
    expect(isPyramidError(euro, 'POLICY_INVALID') && euro.message).toBe(
      `policy eur.yaml: currency is EUR, the policy in force (${inForce.version}) has CNY; the stored state is kept in it, so it cannot be switched in place: rebuild with pyramid replay --prefix <fresh prefix> under the new policy`,
    );
    expect(() => assertSwitchable(inForce, { ...inForce, version: 'hourly', bucketMs: 3_600_000 }, 'hourly.yaml')).toThrow(/policy hourly\.yaml: bucket is 3600000 ms, the policy in force .* has 86400000 ms/);
  });

  it('refuses a live switch to or from a policy with relative tiers, naming ranking', () => {
    const share = shippedPolicy('pyramid-share');
    expect(() => assertSwitchable(inForce, share, 'share.yaml')).toThrow(/ranking \(tiers\[\]\.relative\) is relative tiers, the policy in force .* has no relative tiers/);
    expect(() => assertSwitchable(share, { ...inForce, version: 'next' }, 'next.yaml')).toThrow(/ranking/);
  });
});
