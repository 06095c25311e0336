import { describe, expect, it } from 'vitest';
import { isPyramidError } from '../../src/errors.js';
import { loadPolicyFile } from '../../src/policy/load.js';
import { parsePolicy } from '../../src/policy/parse.js';
import { DAY, shippedPolicyPath } from './fixtures.js';

/** A valid policy as plain data; each malformed case mutates a fresh copy. */
function basePolicy(): Record<string, unknown> & { tiers: Record<string, unknown>[] } {
  return {
    version: '1',
    name: 'test',
    currency: 'CNY',
    window: '365d',
    bucket: '1d',
    inactivity: { after: '180d', tier: 'inactive' },
    hysteresis: { downgradeMargin: '5%', downgradeGrace: '7d' },
    tiers: [
      { name: 'vip', when: { monetary: { gt: '58900' } } },
      { name: 'major', when: { monetary: { gt: '19000', lte: '58900' } } },
      { name: 'small', when: { frequency: { gte: 1 } } },
    ],
    fallback: 'prospect',
  };
}

/** Parses and returns the POLICY_INVALID message (fails the test when it parses). */
function rejection(input: unknown, source = 'policies/test.yaml'): string {
  try {
    parsePolicy(input, source);
  } catch (err) {
    expect(isPyramidError(err, 'POLICY_INVALID')).toBe(true);
    return (err as Error).message;
  }
  throw new Error('expected the policy to be rejected');
}

describe('shipped policies', () => {
  it.each(['default', 'frequency', 'value-loyalty', 'bank-cards'])('%s.yaml loads', async (name) => {
    const policy = await loadPolicyFile(shippedPolicyPath(name));
    expect(policy.tiers.length).toBeGreaterThan(0);
    expect(policy.rules?.[policy.fallbackTier]).toBeDefined();
  });

  it('bank-cards.yaml tiers card holders by average daily balance', async () => {
    const policy = await loadPolicyFile(shippedPolicyPath('bank-cards'));
    expect(policy.tiers.map((tier) => [tier.name, tier.conditions])).toEqual([
      ['black-gold', [{ metric: 'averageDailyBalance', op: 'gte', value: 100_000_000 }]],
      ['platinum', [{ metric: 'averageDailyBalance', op: 'gte', value: 30_000_000 }]],
      ['gold', [{ metric: 'averageDailyBalance', op: 'gte', value: 10_000_000 }]],
    ]);
    expect(policy.fallbackTier).toBe('silver');
    expect(policy.rules?.['black-gold']).toBe('averageDailyBalance >= 1000000.00 CNY');
  });

  it('default.yaml is the worked example', async () => {
    const policy = await loadPolicyFile(shippedPolicyPath('default'));
    expect(policy.currency).toBe('CNY');
    expect(policy.minorUnitDigits).toBe(2);
    expect(policy.windowMs).toBe(365 * DAY);
    expect(policy.bucketMs).toBe(DAY);
    expect(policy.inactivityMs).toBe(180 * DAY);
    expect(policy.tiers.map((tier) => [tier.name, tier.rank])).toEqual([
      ['vip', 5],
      ['major', 4],
      ['medium', 3],
      ['small', 2],
    ]);
    expect(policy.tiers[0]?.conditions).toEqual([{ metric: 'monetary', op: 'gt', value: 5_890_000 }]);
    expect(policy.rules?.vip).toBe('monetary > 58900.00 CNY');
    expect(policy.rules?.inactive).toBe('inactive: no purchase for 180d');
    expect(policy.hysteresis).toEqual({ downgradeGraceMs: 7 * DAY, downgradeMarginBps: 500 });
  });
});

describe('parsePolicy', () => {
  it('reads JSON text and already-parsed data alike', () => {
    const fromJson = parsePolicy(JSON.stringify(basePolicy()), 'inline.json');
    const fromData = parsePolicy(basePolicy(), 'inline');
    expect(fromJson).toEqual(fromData);
    expect(fromData.hysteresis.downgradeMarginBps).toBe(500);
  });

  it('defaults hysteresis to none and allows no inactivity rule', () => {
    const data = basePolicy();
    delete data.hysteresis;
    delete data.inactivity;
    const policy = parsePolicy(data, 'inline');
    expect(policy.hysteresis).toEqual({ downgradeGraceMs: 0, downgradeMarginBps: 0 });
    expect(policy.inactivityMs).toBeNull();
    expect(policy.inactiveTier).toBeNull();
  });

  it('reads fractional margins to basis points', () => {
    const data = basePolicy();
    data.hysteresis = { downgradeMargin: '2.5%' };
    expect(parsePolicy(data, 'inline').hysteresis.downgradeMarginBps).toBe(250);
  });

  it('reads relative bands as basis points of the ranked population, alone or with absolute conditions', () => {
    const data = basePolicy();
    data.tiers = [
      { name: 'top', relative: { monetary: { top: '1%' } } },
      { name: 'band', when: { recency: { lte: '30d' } }, relative: { monetary: { from: '1%', to: '12.5%' }, frequency: { top: '40%' } } },
      { name: 'small', when: { frequency: { gte: 1 } } },
    ];
    const policy = parsePolicy(data, 'inline');
    expect(policy.ranking).toEqual({ population: 'active-purchasers' });
    expect(policy.tiers[0]?.relative).toEqual([{ metric: 'monetary', fromBps: 0, toBps: 100 }]);
    expect(policy.tiers[1]?.relative).toEqual([
      { metric: 'monetary', fromBps: 100, toBps: 1250 },
      { metric: 'frequency', fromBps: 0, toBps: 4000 },
    ]);
    expect(policy.tiers[1]?.conditions).toEqual([{ metric: 'recencyMs', op: 'lte', value: 30 * DAY }]);
    expect(policy.rules?.band).toBe('recency <= 30d and monetary in top 1%-12.5% and frequency in top 40%');
    expect(policy.tiers[2]?.relative).toBeUndefined();
    expect(parsePolicy(basePolicy(), 'inline').ranking).toBeUndefined();
  });

  it('reads ranking.every as the boundary instants in ms, with the population defaulted', () => {
    const data = basePolicy();
    data.tiers = [{ name: 'top', relative: { monetary: { top: '1%' } } }, ...data.tiers];
    data.ranking = { every: '6h' };
    expect(parsePolicy(data, 'inline').ranking).toEqual({ population: 'active-purchasers', everyMs: 6 * 3_600_000 });
  });

  it('loads the shipped pyramid-share policy: 1 / 4 / 15 / 80 % as cumulative bands', async () => {
    const policy = await loadPolicyFile(shippedPolicyPath('pyramid-share'));
    expect(policy.tiers.map((tier) => [tier.name, tier.relative])).toEqual([
      ['vip', [{ metric: 'monetary', fromBps: 0, toBps: 100 }]],
      ['major', [{ metric: 'monetary', fromBps: 100, toBps: 500 }]],
      ['medium', [{ metric: 'monetary', fromBps: 500, toBps: 2000 }]],
      ['small', [{ metric: 'monetary', fromBps: 2000, toBps: 10_000 }]],
    ]);
  });

  it('reads averageDailyBalance and profit bounds as amounts in the policy currency', () => {
    const data = basePolicy();
    data.tiers[0] = { name: 'vip', when: { averageDailyBalance: { gte: '1000000' }, profit: { gt: '-5.22', lte: 45600 } } };
    expect(parsePolicy(data, 'inline').tiers[0]?.conditions).toEqual([
      { metric: 'averageDailyBalance', op: 'gte', value: 100_000_000 },
      { metric: 'profit', op: 'gt', value: -522 },
      { metric: 'profit', op: 'lte', value: 4_560_000 },
    ]);
  });

  it('names the field of a bad averageDailyBalance or profit bound', () => {
    const data = basePolicy();
    data.tiers[0] = { name: 'vip', when: { averageDailyBalance: { gte: '0.001' } } };
    data.tiers[1] = { name: 'major', when: { profit: { gt: '10', lt: '5' } } };
    const message = rejection(data);
    expect(message).toContain('tiers[0].when.averageDailyBalance.gte');
    expect(message).toContain('tiers[1].when.profit: the bounds admit no value');
  });

  it('names the file and the line of a YAML syntax error', () => {
    const message = rejection('version: "1"\ntiers: [\n  - name: x\n', 'policies/broken.yaml');
    expect(message).toContain('policies/broken.yaml');
    expect(message).toMatch(/line \d+/);
  });

  const malformed: [string, (data: ReturnType<typeof basePolicy>) => void, string][] = [
    ['overlapping monetary thresholds', (d) => void ((d.tiers[1] as { when: unknown }).when = { monetary: { gt: '19000', lte: '60000' } }), 'tiers[1].when.monetary: tier "major" [19000.01, 60000.00] CNY overlaps tier "vip"'],
    ['unsorted monetary thresholds', (d) => void d.tiers.reverse().push(d.tiers.shift() as Record<string, unknown>), 'tiers[1].when.monetary: tier "vip"'],
    ['fallback that is also a listed tier', (d) => void (d.fallback = 'small'), 'fallback: "small" is also a listed tier'],
    ['missing fallback', (d) => void delete d.fallback, 'fallback: is required'],
    ['inactive tier that is the fallback', (d) => void (d.inactivity = { after: '180d', tier: 'prospect' }), 'inactivity.tier: "prospect" is also the fallback'],
    ['bucket longer than the window', (d) => void (d.bucket = '400d'), 'bucket: bucket 400d is longer than the window 365d'],
    ['window not a multiple of the bucket', (d) => void (d.bucket = '7d'), 'bucket: bucket 7d does not divide the window 365d exactly'],
    ['too many buckets per window', (d) => void (d.bucket = '1m'), 'bucket: window / bucket is 525600 buckets'],
    ['zero window', (d) => void (d.window = '0d'), 'window: must be a positive duration'],
    ['zero inactivity horizon', (d) => void (d.inactivity = { after: '0h', tier: 'inactive' }), 'inactivity.after: must be a positive duration'],
    ['malformed duration', (d) => void (d.bucket = '1 day'), 'bucket: "1 day" is not a duration'],
    ['duration given as a number', (d) => void (d.window = 365), 'window: expected a duration string'],
    ['unknown currency', (d) => void (d.currency = 'XYZ'), 'currency: unknown currency "XYZ"'],
    ['amount not representable in minor units', (d) => void (d.tiers[0] = { name: 'vip', when: { monetary: { gt: '0.001' } } }), 'tiers[0].when.monetary.gt: "0.001" is not representable'],
    ['fractional amount written as a YAML number', (d) => void (d.tiers[0] = { name: 'vip', when: { monetary: { gt: 0.5 } } }), 'tiers[0].when.monetary.gt: 0.5 is not a whole number'],
    ['duplicate tier names', (d) => void ((d.tiers[2] as { name: string }).name = 'vip'), 'tiers[2].name: duplicate tier name "vip" (also tiers[0])'],
    ['frequency given as a string', (d) => void (d.tiers[2] = { name: 'small', when: { frequency: { gte: '1' } } }), 'tiers[2].when.frequency.gte: expected a whole number'],
    ['fractional frequency', (d) => void (d.tiers[2] = { name: 'small', when: { frequency: { gte: 1.5 } } }), 'tiers[2].when.frequency.gte: expected a whole number'],
    ['missing tiers', (d) => void delete (d as Record<string, unknown>).tiers, 'tiers: is required'],
    ['empty tier list', (d) => void (d.tiers = []), 'tiers: needs at least one tier'],
    ['missing version', (d) => void delete d.version, 'version: is required'],
    ['numeric version', (d) => void (d.version = 1.1), 'version: expected a string'],
    ['misspelt condition', (d) => void (d.tiers[0] = { name: 'vip', when: { monetery: { gt: '1' } } }), 'tiers[0].when.monetery: unknown field'],
    ['unknown top-level field', (d) => void (d.windows = '365d'), 'windows: unknown field'],
    ['gt and gte together', (d) => void (d.tiers[0] = { name: 'vip', when: { monetary: { gt: '1', gte: '2' } } }), 'tiers[0].when.monetary: use either gt or gte'],
    ['empty bounds object', (d) => void (d.tiers[0] = { name: 'vip', when: { monetary: {} } }), 'tiers[0].when.monetary: needs at least one of gt, gte, lt, lte'],
    ['bounds that admit nothing', (d) => void (d.tiers[2] = { name: 'small', when: { frequency: { gt: 5, lt: 6 } } }), 'tiers[2].when.frequency: the bounds admit no value'],
    ['margin of 100 % or more', (d) => void (d.hysteresis = { downgradeMargin: '150%' }), 'hysteresis.downgradeMargin: "150%" is not a percentage'],
    ['relative share of zero', (d) => void d.tiers.unshift({ name: 'top', relative: { monetary: { top: '0%' } } }), 'tiers[0].relative.monetary.top: must be above "0%"'],
    ['relative share above 100 %', (d) => void d.tiers.unshift({ name: 'top', relative: { monetary: { top: '101%' } } }), 'tiers[0].relative.monetary.top: "101%" is not a share from "0%" to "100%"'],
    ['relative share as a number', (d) => void d.tiers.unshift({ name: 'top', relative: { monetary: { top: 1 } } }), 'tiers[0].relative.monetary.top: expected a share of customers'],
    ['relative share with three decimals', (d) => void d.tiers.unshift({ name: 'top', relative: { monetary: { top: '0.125%' } } }), 'tiers[0].relative.monetary.top: "0.125%" is not a share'],
    ['relative band upside down', (d) => void d.tiers.unshift({ name: 'top', relative: { monetary: { from: '5%', to: '1%' } } }), 'tiers[0].relative.monetary.to: must be above from'],
    ['relative band without its end', (d) => void d.tiers.unshift({ name: 'top', relative: { monetary: { from: '5%' } } }), 'tiers[0].relative.monetary: needs top, or both from and to'],
    ['relative top together with from', (d) => void d.tiers.unshift({ name: 'top', relative: { monetary: { top: '5%', from: '1%' } } }), 'tiers[0].relative.monetary: use either top or from/to'],
    ['relative of an unsupported metric', (d) => void d.tiers.unshift({ name: 'top', relative: { recency: { top: '1%' } } }), 'tiers[0].relative.recency: unknown field'],
    ['relative with no metric', (d) => void d.tiers.unshift({ name: 'top', relative: {} }), 'tiers[0].relative: needs monetary or frequency'],
    ['the old relative shape', (d) => void d.tiers.unshift({ name: 'top', relative: { topPercent: 1 } }), 'tiers[0].relative.topPercent: unknown field'],
    ['ranking without a relative tier', (d) => void (d.ranking = { population: 'active-purchasers' }), 'ranking: no tier has relative conditions'],
    ['an unknown ranked population', (d) => void (d.ranking = { population: 'everyone' }), 'ranking.population: expected "active-purchasers"'],
    ['boundary instants of zero', (d) => void (d.tiers.unshift({ name: 'top', relative: { monetary: { top: '1%' } } }), (d.ranking = { every: '0s' })), 'ranking.every: must be a positive duration'],
    ['boundary instants below a minute', (d) => void (d.tiers.unshift({ name: 'top', relative: { monetary: { top: '1%' } } }), (d.ranking = { every: '30s' })), 'ranking.every: 30s is below 1m'],
    ['boundary instants that are no duration', (d) => void (d.tiers.unshift({ name: 'top', relative: { monetary: { top: '1%' } } }), (d.ranking = { every: 'hourly' })), 'ranking.every:'],
    ['unconditioned tier before others', (d) => void d.tiers.unshift({ name: 'everyone' }), 'tiers[0].when: tier "everyone" has no conditions'],
    ['tier name with a space', (d) => void ((d.tiers[1] as { name: string }).name = 'big spender'), 'tiers[1].name: must start with a letter'],
    ['recency given as a number', (d) => void (d.tiers[2] = { name: 'small', when: { recency: { lte: 30 } } }), 'tiers[2].when.recency.lte: expected a duration string'],
  ];

  it.each(malformed)('rejects %s, naming the file and the field', (_label, mutate, expected) => {
    const data = basePolicy();
    mutate(data);
    const message = rejection(data, 'policies/test.yaml');
    expect(message).toContain('policies/test.yaml');
    expect(message).toContain(expected);
  });

  it('reports every problem at once, each on its own field', () => {
    const data = basePolicy();
    data.currency = 'XYZ';
    data.bucket = '2d';
    (data.tiers[2] as { name: string }).name = 'vip';
    let fields: unknown;
    try {
      parsePolicy(data, 'multi.yaml');
    } catch (err) {
      fields = isPyramidError(err) ? err.details?.fields : undefined;
    }
    expect(fields).toEqual(['currency', 'bucket', 'tiers[2].name']);
  });

  it('names the file when it cannot be read', async () => {
    await expect(loadPolicyFile('/nonexistent/policy.yaml')).rejects.toThrow(/\/nonexistent\/policy\.yaml cannot be read/);
  });
});
