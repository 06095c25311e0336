import { Redis } from 'ioredis';
import { pino } from 'pino';
import { describe, expect, inject, it } from 'vitest';
import { createPolicyWatcher, type PolicyInUse } from '../../src/pipeline/policy-watcher.js';
import { policyContentHash } from '../../src/policy/content-hash.js';
import { parsePolicy } from '../../src/policy/parse.js';
import { storeGroupPolicy } from '../../src/state/group-policy.js';
import { GROUP_POLICY, groupPolicyKey } from '../../src/state/layout.js';
import { silentLogger } from '../../src/logger.js';
import { shippedPolicy } from '../policy/fixtures.js';
import { useStateRedis } from '../state/store-helpers.js';
import { waitFor } from '../e2e/support.js';
import { lowerThresholdsText } from './policy-population.js';

const initial = (): PolicyInUse => {
  const policy = shippedPolicy('default');
  return { policy, hash: policyContentHash(policy) };
};

describe('policy watcher: a running scorer picks up the policy applied for its key prefix', () => {
  const { redis, newPrefix } = useStateRedis();

  it('by polling the stored policy (no hint), compiling the stored content', async () => {
    const prefix = newPrefix('watch-poll');
    const switched: PolicyInUse[] = [];
    const watcher = createPolicyWatcher({ redis, prefix, initial: initial(), intervalMs: 50, onSwitch: async (next) => void switched.push(next), logger: silentLogger });
    await watcher.start();
    try {
      const text = lowerThresholdsText('poll-2');
      const hash = policyContentHash(parsePolicy(text, 'x'));
      // Written the way apply stores it, but without its pub/sub hint: only the poll can see it.
      await redis.hset(groupPolicyKey(prefix), GROUP_POLICY.version, 'poll-2', GROUP_POLICY.hash, hash, GROUP_POLICY.content, text, GROUP_POLICY.source, 'new.yaml', GROUP_POLICY.appliedAt, '1');
      expect(await waitFor(() => switched.length === 1, 10_000, 20)).toBe(true);
      expect(switched[0]?.policy.version).toBe('poll-2');
      expect(switched[0]?.hash).toBe(hash);
      expect(watcher.current().policy.tiers.find((t) => t.name === 'vip')?.conditions).toEqual([{ metric: 'monetary', op: 'gt', value: 3_000_000 }]);
      // Polling on finds nothing new: no second switch.
      await watcher.refresh();
      expect(switched).toHaveLength(1);
    } finally {
      await watcher.stop();
    }
  });

  it('at once on the apply hint, even with a poll interval far away, on a connection made like the scorer\'s', async () => {
    const prefix = newPrefix('watch-hint');
    const switched: string[] = [];
    // As connectRedis makes it: lazy, without an offline queue.
    const scorerRedis = new Redis(inject('redisUrl'), { lazyConnect: true, enableOfflineQueue: false });
    await scorerRedis.connect();
    const warnings: string[] = [];
    const watcher = createPolicyWatcher({
      redis: scorerRedis,
      prefix,
      initial: initial(),
      intervalMs: 600_000,
      onSwitch: async (next) => void switched.push(next.policy.version),
      logger: pino({ level: 'warn' }, { write: (line: string) => void warnings.push(line) }),
    });
    await watcher.start();
    try {
      expect(warnings).toEqual([]);
      const text = lowerThresholdsText('hint-2');
      await storeGroupPolicy(redis, prefix, { version: 'hint-2', hash: policyContentHash(parsePolicy(text, 'x')), content: text, source: 'new.yaml' }, 1);
      expect(await waitFor(() => switched.length === 1, 10_000, 20)).toBe(true);
      expect(switched).toEqual(['hint-2']);
    } finally {
      await watcher.stop();
      scorerRedis.disconnect();
    }
  });

  it('never takes a stored policy whose content does not compile to its hash, or that changes the currency', async () => {
    const prefix = newPrefix('watch-refuse');
    const switched: string[] = [];
    const watcher = createPolicyWatcher({ redis, prefix, initial: initial(), intervalMs: 600_000, onSwitch: async (next) => void switched.push(next.policy.version), logger: silentLogger });
    const text = lowerThresholdsText('bad-3');
    await storeGroupPolicy(redis, prefix, { version: 'bad-3', hash: 'not-its-hash', content: text, source: 'bad.yaml' }, 1);
    expect((await watcher.refresh()).policy.version).toBe(initial().policy.version);
    const euro = text.replace(/^version: .*$/m, 'version: "eur-4"').replace('currency: CNY', 'currency: EUR');
    await storeGroupPolicy(redis, prefix, { version: 'eur-4', hash: policyContentHash(parsePolicy(euro, 'x')), content: euro, source: 'eur.yaml' }, 2);
    expect((await watcher.refresh()).policy.version).toBe(initial().policy.version);
    expect(switched).toEqual([]);
  });
});
