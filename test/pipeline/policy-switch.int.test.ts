import { describe, expect, it } from 'vitest';
import { isPyramidError } from '../../src/errors.js';
import { silentLogger } from '../../src/logger.js';
import { CacheBudget } from '../../src/pipeline/customer-cache.js';
import { OwnedPartition } from '../../src/pipeline/owned-partition.js';
import { policyMoveMatrix } from '../../src/pipeline/policy-diff.js';
import { policyContentHash } from '../../src/policy/content-hash.js';
import type { CompiledPolicy } from '../../src/policy/types.js';
import { readGroupPolicy, storeGroupPolicy } from '../../src/state/group-policy.js';
import type { StateStore } from '../../src/state/store.js';
import { shippedPolicy } from '../policy/fixtures.js';
import { useStateRedis } from '../state/store-helpers.js';
import { outboxChanges } from './owned-partition-fixture.js';
import { directMoves, lowerThresholds, lowerThresholdsText, scorePopulation } from './policy-population.js';

const TOPIC = 'tx';
const PARTITIONS = 2;

/** A scorer's owned partition on the policy in force for the prefix (as `run` builds it after `apply`). */
async function claimUnder(store: StateStore, partition: number, policy: CompiledPolicy): Promise<OwnedPartition> {
  const owned = new OwnedPartition({
    store,
    topic: TOPIC,
    partition,
    policy,
    policyHash: policyContentHash(policy),
    clock: 'event',
    dedupeHorizonMs: null,
    budget: new CacheBudget(1_000_000),
    logger: silentLogger,
    policyInForce: true,
  });
  await owned.claim();
  return owned;
}

/** POLICY changes of every partition as `from>to` -> count, and the customers that got one. */
async function policyEvents(store: StateStore): Promise<{ cells: Map<string, number>; perCustomer: Map<string, number>; versions: Set<string> }> {
  const cells = new Map<string, number>();
  const perCustomer = new Map<string, number>();
  const versions = new Set<string>();
  for (let p = 0; p < PARTITIONS; p++) {
    for (const change of await outboxChanges(store, TOPIC, p)) {
      if (change.cause !== 'POLICY') continue;
      versions.add(`${change.previousPolicyVersion}>${change.policyVersion}`);
      const key = `${change.previousTier}>${change.newTier}`;
      cells.set(key, (cells.get(key) ?? 0) + 1);
      perCustomer.set(change.customerId, (perCustomer.get(change.customerId) ?? 0) + 1);
    }
  }
  return { cells, perCustomer, versions };
}

describe('policy switch: diff, apply, background re-evaluation', () => {
  const { redis, newPrefix } = useStateRedis();

  it('produces exactly the POLICY events the move matrix announced, also when the owner dies mid-way', async () => {
    const prefix = newPrefix('policy-switch');
    const old = shippedPolicy('default');
    const store = await scorePopulation(redis, prefix, old, PARTITIONS, 150);
    const next = lowerThresholds('lowered-1');
    const matrix = await policyMoveMatrix({ store, topic: TOPIC, partitions: [0, 1], policy: next, clock: 'event', pauseMs: 0 });
    const expected = new Map(matrix.cells.filter((c) => c.from !== c.to).map((c) => [`${c.from}>${c.to}`, c.customers]));
    expect(matrix.moving).toBeGreaterThan(10);

    const applied = await storeGroupPolicy(redis, prefix, { version: next.version, hash: policyContentHash(next), content: lowerThresholdsText(next.version), source: 'test' }, Date.now());
    expect(applied).toEqual({ outcome: 'applied', previousVersion: null });

    for (let p = 0; p < PARTITIONS; p++) {
      const first = await claimUnder(store, p, next);
      expect(first.reevaluating).toBe(true);
      // A few pages, then this owner is gone (never stopped cleanly) and another claims the partition.
      for (let step = 0; step < 3; step++) await first.reevaluateStep(Date.now(), 5);
      const second = await claimUnder(store, p, next);
      await expect(first.reevaluateStep(Date.now(), 5)).rejects.toSatisfy((err) => isPyramidError(err, 'STATE_FENCED'));
      let steps = 0;
      while ((await second.reevaluateStep(Date.now(), 5)).more) steps++;
      expect(steps).toBeGreaterThan(0);
      expect(second.reevaluating).toBe(false);
      const meta = await store.readMeta(TOPIC, p);
      expect(meta).toMatchObject({ policyVersion: next.version, policyHash: policyContentHash(next), previousPolicyVersion: old.version, reevaluationCursor: null });
    }

    const events = await policyEvents(store);
    expect(events.cells).toEqual(expected);
    // Both policy versions in every POLICY event.
    expect(events.versions).toEqual(new Set([`${old.version}>${next.version}`]));
    expect([...events.perCustomer.values()].every((n) => n === 1)).toBe(true);
    // Every customer now has the tier the new policy gives: nothing is left to move.
    const after = await directMoves(redis, store, TOPIC, PARTITIONS, next);
    expect([...after.keys()].every((key) => key.split('>')[0] === key.split('>')[1])).toBe(true);
    // Re-running the re-evaluation (a new switch to the same policy is a no-op) emits nothing more.
    const again = await claimUnder(store, 0, next);
    expect(again.reevaluating).toBe(false);
  });

  it('a running owner switches at its next commit; switching back before it cancels the switch', async () => {
    const prefix = newPrefix('policy-live');
    const old = shippedPolicy('default');
    const store = await scorePopulation(redis, prefix, old, 1, 150);
    const next = lowerThresholds('live-1');
    const owned = await claimUnder(store, 0, old);
    expect(owned.reevaluating).toBe(false);
    // Asked to switch and back again before any commit: nothing switches.
    owned.switchPolicy(next, policyContentHash(next));
    expect(owned.policyStatus).toMatchObject({ policyVersion: next.version, switchingFrom: old.version });
    owned.switchPolicy(old, policyContentHash(old));
    expect(owned.reevaluating).toBe(false);
    const before = (await store.readMeta(TOPIC, 0))?.commit ?? 0;

    owned.switchPolicy(next, policyContentHash(next));
    expect(owned.policyStatus.switchingFrom).toBe(old.version);
    const watermark = (await store.readMeta(TOPIC, 0))?.eventWatermark ?? 0;
    // The next commit (a record of an existing customer) is the switch point.
    await owned.apply([{ offset: 1_000_000, transactionId: 'live-1', customerId: 'c0-1', kind: 'purchase', amountMinor: 100, eventTime: watermark }]);
    await owned.settled();
    expect(await store.readMeta(TOPIC, 0)).toMatchObject({ commit: before + 1, policyVersion: next.version, previousPolicyVersion: old.version, reevaluationCursor: '0:0' });
    expect(owned.policyStatus).toMatchObject({ policyVersion: next.version, switchingFrom: old.version, done: 0 });
    while ((await owned.reevaluateStep(Date.now(), 50)).more);
    const changes = (await outboxChanges(store, TOPIC, 0)).filter((c) => c.policyVersion === next.version);
    expect(changes.filter((c) => c.cause === 'POLICY').length).toBeGreaterThan(5);
    expect(changes.filter((c) => c.cause === 'POLICY').every((c) => c.previousPolicyVersion === old.version)).toBe(true);
    expect(changes.filter((c) => c.cause !== 'POLICY').every((c) => c.previousPolicyVersion === null)).toBe(true);
    const moved = await directMoves(redis, store, TOPIC, 1, next);
    expect([...moved.keys()].every((key) => key.split('>')[0] === key.split('>')[1])).toBe(true);
  });

  it('a claim never switches a partition back: with a newer policy in force it refuses, retriably, until the claimer picks it up', async () => {
    const prefix = newPrefix('policy-forward');
    const old = shippedPolicy('default');
    const store = await scorePopulation(redis, prefix, old, 1, 50);
    const middle = lowerThresholds('forward-2');
    const latest = lowerThresholds('forward-3');
    const stored = (policy: CompiledPolicy) => ({ version: policy.version, hash: policyContentHash(policy), content: lowerThresholdsText(policy.version), source: `${policy.version}.yaml` });
    await storeGroupPolicy(redis, prefix, stored(middle), 1);
    const first = await claimUnder(store, 0, middle);
    await first.reevaluateStep(Date.now(), 10);
    expect((await store.readMeta(TOPIC, 0))?.policyVersion).toBe(middle.version);
    // Another apply; a scorer that has not picked it up yet still runs the one before the partition's.
    await storeGroupPolicy(redis, prefix, stored(latest), 2);
    const stale = new OwnedPartition({ store, topic: TOPIC, partition: 0, policy: old, policyHash: policyContentHash(old), clock: 'event', dedupeHorizonMs: null, budget: new CacheBudget(1_000), logger: silentLogger, policyInForce: true });
    const refused = await stale.claim().catch((err: unknown) => err);
    expect(isPyramidError(refused, 'POLICY_INVALID') && refused.retriable).toBe(true);
    expect(String((refused as Error).message)).toContain(`is on policy ${middle.version}; the policy in force is ${latest.version}, not this scorer's ${old.version}`);
    // Picked up, it claims and switches the partition forward.
    stale.switchPolicy(latest, policyContentHash(latest));
    await stale.claim();
    expect(stale.policyStatus).toMatchObject({ policyVersion: latest.version, switchingFrom: middle.version });
    await stale.reevaluateStep(Date.now(), 10);
    expect(await store.readMeta(TOPIC, 0)).toMatchObject({ policyVersion: latest.version, previousPolicyVersion: middle.version });
  });

  it('refuses a policy changed in place under the version in force', async () => {
    const prefix = newPrefix('policy-in-place');
    const policy = lowerThresholds('same-version');
    const source = { version: policy.version, hash: policyContentHash(policy), content: lowerThresholdsText(policy.version), source: 'a.yaml' };
    await storeGroupPolicy(redis, prefix, source, 1);
    expect(await storeGroupPolicy(redis, prefix, source, 2)).toEqual({ outcome: 'unchanged' });
    await expect(storeGroupPolicy(redis, prefix, { ...source, hash: 'other', source: 'b.yaml' }, 3)).rejects.toThrow(
      /policy b\.yaml changes the rules of version same-version, which is in force with other content/,
    );
    expect(await readGroupPolicy(redis, prefix)).toMatchObject({ version: policy.version, hash: source.hash, source: 'a.yaml', appliedAt: 1 });
  });
});
