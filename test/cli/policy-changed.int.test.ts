import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startDevStack, type DevStackHandle } from '@pyramid/devstack';
import { createScorer } from '../../src/pipeline/scorer.js';
import { policyContentHash } from '../../src/policy/content-hash.js';
import { loadPolicyFile } from '../../src/policy/load.js';
import { runSimulator } from '../../src/simulator/run.js';
import { readGroupPolicy } from '../../src/state/group-policy.js';
import { StateStore } from '../../src/state/store.js';
import { appliedPosition } from '../e2e/replay-equivalence.js';
import { createTopics, DEFAULT_POLICY, testConfig, testKafka, uniqueNames, waitFor } from '../e2e/support.js';
import { cliEnv, runCli } from './spawn-cli.js';

const PARTITIONS = 2;
const EVENTS = 400;
const DAY = 86_400_000;

/**
 * The reported case: the policy's thresholds edited, its version left as it was. Scoring on with
 * it would mix two policies in one state under one version; `pyramid run` must refuse to start,
 * and `pyramid policy apply` to store it, both naming the stored content hash and the file's.
 */
describe('`pyramid run` with a policy whose content changed under the same version', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pyramid-policy-'));
  const edited = join(dir, 'edited.yaml');
  const names = uniqueNames('policy-changed');
  const redis = new Redis(inject('redisUrl'));
  let stack: DevStackHandle;

  beforeAll(async () => {
    stack = await startDevStack({ brokerPort: 0, registryPort: 0 });
    await createTopics(stack.brokers, [names.transactions], PARTITIONS);
    const producer = testKafka(stack.brokers).createProducer();
    await runSimulator({ producer, topic: names.transactions, format: 'json', seed: 31, customers: 100, count: EVENTS, startTime: Date.now() - 100 * DAY, spacingMs: (90 * DAY) / EVENTS, batchSize: 200 });
    await producer.disconnect();
    // The state, written by a scorer running the original policy.
    const scorer = createScorer(testConfig({ brokers: stack.brokers, redisUrl: inject('redisUrl'), names, overrides: { clock: 'event' } }));
    await scorer.start();
    const store = new StateStore({ redis, prefix: names.keyPrefix, partitionCount: PARTITIONS });
    expect(await waitFor(async () => (await appliedPosition(redis, store, names.transactions, PARTITIONS)) === EVENTS, 60_000, 100)).toBe(true);
    await scorer.stop();
    // The vip threshold raised, the version line untouched.
    const original = readFileSync(DEFAULT_POLICY, 'utf8');
    const changed = original.replace('gt: "58900.00" }', 'gt: "60000.00" }').replace('lte: "58900.00" }', 'lte: "60000.00" }');
    expect(changed).not.toBe(original);
    writeFileSync(edited, changed);
  }, 90_000);

  afterAll(async () => {
    await stack?.close();
    redis.disconnect();
    rmSync(dir, { recursive: true, force: true });
  });

  it('exits 1 with one line naming the stored content hash and the file\'s', async () => {
    const before = await loadPolicyFile(DEFAULT_POLICY);
    const after = await loadPolicyFile(edited);
    expect(after.version).toBe(before.version);
    const storedHash = policyContentHash(before);
    const fileHash = policyContentHash(after);
    expect(fileHash).not.toBe(storedHash);

    const result = await runCli(['run'], { ...cliEnv({ brokers: stack.brokers, redisUrl: inject('redisUrl'), names, extra: { PYRAMID_CLOCK: 'event' } }), PYRAMID_POLICY_FILE: edited });
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr.trimEnd()).toBe(
      `pyramid: partition 0 of ${names.transactions}: the stored state has policy content hash ${storedHash}, this scorer has ${fileHash}; the policy file changed without a new version: give it a new version, or restore the file in force`,
    );
  }, 60_000);

  it('`pyramid policy apply` refuses it too, naming both content hashes, and stores nothing', async () => {
    const before = await loadPolicyFile(DEFAULT_POLICY);
    const storedHash = policyContentHash(before);
    const fileHash = policyContentHash(await loadPolicyFile(edited));
    const inForce = await readGroupPolicy(redis, names.keyPrefix);
    expect(inForce).toMatchObject({ version: before.version, hash: storedHash });

    const result = await runCli(['policy', 'apply', edited], cliEnv({ brokers: stack.brokers, redisUrl: inject('redisUrl'), names, extra: { PYRAMID_CLOCK: 'event' } }));
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr.trimEnd()).toBe(
      `pyramid: policy ${edited} changes the rules of version ${before.version}, which is in force with other content (content hash ${storedHash}, the file's ${fileHash}): give the changed policy a new version, then run pyramid policy apply`,
    );
    expect(await readGroupPolicy(redis, names.keyPrefix)).toEqual(inForce);
  }, 60_000);
});
