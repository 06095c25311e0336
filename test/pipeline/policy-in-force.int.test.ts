import { describe, expect, it } from 'vitest';
import { checkPolicyInForce } from '../../src/pipeline/policy-in-force.js';
import { readGroupPolicy, storeGroupPolicy } from '../../src/state/group-policy.js';
import { useStateRedis } from '../state/store-helpers.js';

/** `pyramid run`'s start-up check of its policy file against the policy in force for its key prefix. */
describe('checkPolicyInForce', () => {
  const { redis, newPrefix } = useStateRedis();
  const file = { version: 'v1', hash: 'h1', content: 'c1', source: 'old.yaml' };

  it('records the file as the policy in force when none is stored, then accepts it again', async () => {
    const prefix = newPrefix('in-force-first');
    await checkPolicyInForce(redis, prefix, file);
    expect(await readGroupPolicy(redis, prefix)).toMatchObject({ version: 'v1', hash: 'h1', source: 'old.yaml' });
    await expect(checkPolicyInForce(redis, prefix, file)).resolves.toBeUndefined();
  });

  it('refuses a file that changed the rules under the version in force, also on a prefix without any partition state', async () => {
    const prefix = newPrefix('in-force-in-place');
    await storeGroupPolicy(redis, prefix, file, 1);
    await expect(checkPolicyInForce(redis, prefix, { ...file, hash: 'h1-edited', source: 'edited.yaml' })).rejects.toThrow(
      'policy edited.yaml changes the rules of version v1, which is in force with other content (content hash h1, the file\'s h1-edited)',
    );
  });

  it('refuses an older file after a newer policy was applied, naming the one in force and what to set', async () => {
    const prefix = newPrefix('in-force-older');
    await storeGroupPolicy(redis, prefix, file, 1);
    await storeGroupPolicy(redis, prefix, { version: 'v2', hash: 'h2', content: 'c2', source: '/etc/pyramid/new.yaml' }, Date.UTC(2026, 11, 1));
    const refused = checkPolicyInForce(redis, prefix, file);
    await expect(refused).rejects.toThrow(`the policy in force for key prefix ${prefix} is version v2 (applied from /etc/pyramid/new.yaml at 2026-12-01T00:00:00.000Z; running scorers switched to it without a restart)`);
    await expect(refused).rejects.toThrow('Set PYRAMID_POLICY_FILE to the v2 file (/etc/pyramid/new.yaml), or run pyramid policy apply old.yaml to make v1 the policy in force again');
    expect((await readGroupPolicy(redis, prefix))?.version).toBe('v2');
  });
});
