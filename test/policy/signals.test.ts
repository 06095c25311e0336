import { describe, expect, it } from 'vitest';
import { isPyramidError } from '../../src/errors.js';
import { describePolicy } from '../../src/policy/describe.js';
import { parsePolicy } from '../../src/policy/parse.js';
import { policyContentHash } from '../../src/policy/content-hash.js';
import { DAY } from './fixtures.js';

/** A valid policy with a grace period, as plain data; `signals` is added per case. */
function withSignals(signals: unknown, patch: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    version: '1',
    name: 'test',
    currency: 'CNY',
    window: '365d',
    bucket: '1d',
    hysteresis: { downgradeMargin: '5%', downgradeGrace: '7d' },
    tiers: [
      { name: 'vip', when: { monetary: { gt: '58900' } } },
      { name: 'major', when: { monetary: { gt: '19000', lte: '58900' } } },
      { name: 'small', when: { frequency: { gte: 1 } } },
    ],
    fallback: 'prospect',
    ...(signals === undefined ? {} : { signals }),
    ...patch,
  };
}

function rejection(input: unknown): string {
  try {
    parsePolicy(input, 'policies/test.yaml');
  } catch (err) {
    expect(isPyramidError(err, 'POLICY_INVALID')).toBe(true);
    return (err as Error).message;
  }
  throw new Error('expected the policy to be rejected');
}

describe('policy signals', () => {
  it('compiles an amount distance exactly in minor units, a share in basis points, and the cooldown in ms', () => {
    const amount = parsePolicy(withSignals({ nearUpgrade: { within: { amount: '500.50' }, cooldown: '30d' }, downgradePending: true }), 'p.yaml');
    expect(amount.signals).toEqual({ nearUpgrade: { within: { amountMinor: 50_050 }, cooldownMs: 30 * DAY }, downgradePending: true });
    const share = parsePolicy(withSignals({ nearUpgrade: { within: { ofThreshold: '12.5%' }, cooldown: '2w' } }), 'p.yaml');
    expect(share.signals).toEqual({ nearUpgrade: { within: { thresholdBps: 1250 }, cooldownMs: 14 * DAY }, downgradePending: false });
  });

  it('leaves a policy without signals as it was: no setting, the same content hash', () => {
    const plain = parsePolicy(withSignals(undefined), 'p.yaml');
    expect(plain.signals).toBeUndefined();
    expect('signals' in plain).toBe(false);
    const signalled = parsePolicy(withSignals({ downgradePending: true }), 'p.yaml');
    expect(policyContentHash(signalled)).not.toBe(policyContentHash(plain));
  });

  it.each([
    [{ nearUpgrade: { within: { amount: '500', ofThreshold: '10%' }, cooldown: '30d' } }, /signals\.nearUpgrade\.within.*exactly one of amount/],
    [{ nearUpgrade: { within: {}, cooldown: '30d' } }, /signals\.nearUpgrade\.within.*exactly one of amount/],
    [{ nearUpgrade: { within: '10%', cooldown: '30d' } }, /signals\.nearUpgrade\.within/],
    [{ nearUpgrade: { within: { ofThreshold: '0%' }, cooldown: '30d' } }, /signals\.nearUpgrade\.within\.ofThreshold.*more than 0%/],
    [{ nearUpgrade: { within: { ofThreshold: '10' }, cooldown: '30d' } }, /signals\.nearUpgrade\.within\.ofThreshold/],
    [{ nearUpgrade: { within: { amount: '0' }, cooldown: '30d' } }, /signals\.nearUpgrade\.within\.amount.*more than 0/],
    [{ nearUpgrade: { within: { amount: '0.001' }, cooldown: '30d' } }, /signals\.nearUpgrade\.within\.amount/],
    [{ nearUpgrade: { within: { amount: '500' } } }, /signals\.nearUpgrade\.cooldown/],
    [{ nearUpgrade: { within: { amount: '500' }, cooldown: '0d' } }, /signals\.nearUpgrade\.cooldown.*positive/],
    [{ nearUpgrade: { within: { amount: '500' }, cooldown: '30d', every: '1d' } }, /signals\.nearUpgrade.*every/],
    [{ downgradePending: 'yes' }, /signals\.downgradePending.*true or false/],
    [{ downgradePending: false }, /signals.*asks for no signal/],
    [{}, /signals.*asks for no signal/],
  ])('refuses %j naming the field', (signals, message) => {
    expect(rejection(withSignals(signals))).toMatch(message);
  });

  it('refuses DOWNGRADE_PENDING without a grace period, which no downgrade would ever wait out', () => {
    expect(rejection(withSignals({ downgradePending: true }, { hysteresis: { downgradeMargin: '5%' } }))).toMatch(/signals\.downgradePending.*downgradeGrace/);
  });

  it('refuses NEAR_UPGRADE when no tier has a monetary lower bound to be near', () => {
    const tiers = [{ name: 'loyal', when: { frequency: { gte: 12 } } }, { name: 'occasional', when: { frequency: { gte: 1 } } }];
    expect(rejection(withSignals({ nearUpgrade: { within: { amount: '100' }, cooldown: '30d' } }, { tiers }))).toMatch(/signals\.nearUpgrade.*monetary lower bound/);
  });

  it('refuses signals in a policy with relative tiers, whose shares they would not measure', () => {
    const tiers = [{ name: 'vip', relative: { monetary: { top: '1%' } } }, { name: 'small', when: { monetary: { gt: '0' } } }];
    expect(rejection(withSignals({ nearUpgrade: { within: { amount: '100' }, cooldown: '30d' } }, { tiers }))).toMatch(/signals.*relative/);
  });

  it('pyramid policy check describes the settings in words, and says when there are none', () => {
    const lines = describePolicy(parsePolicy(withSignals({ nearUpgrade: { within: { ofThreshold: '10%' }, cooldown: '30d' }, downgradePending: true }), 'p.yaml'));
    expect(lines).toContain('signals (on the signals topic):');
    expect(lines.find((l) => l.includes('NEAR_UPGRADE'))).toMatch(/at most 10% of that tier's monetary threshold; at most once per 30d per customer/);
    expect(lines.find((l) => l.includes('DOWNGRADE_PENDING'))).toMatch(/7d grace.*DOWNGRADE_CANCELLED/);
    const amount = describePolicy(parsePolicy(withSignals({ nearUpgrade: { within: { amount: '500' }, cooldown: '1w' } }), 'p.yaml'));
    expect(amount.find((l) => l.includes('NEAR_UPGRADE'))).toMatch(/at most 500\.00 CNY; at most once per 7d/);
    expect(amount).toContain('  DOWNGRADE_PENDING: off');
    expect(describePolicy(parsePolicy(withSignals(undefined), 'p.yaml'))).toContain('signals: none (no NEAR_UPGRADE or DOWNGRADE_PENDING is emitted)');
  });
});
