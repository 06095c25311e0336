import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { policyMoveMatrix } from '../../src/pipeline/policy-diff.js';
import { createScorer } from '../../src/pipeline/scorer.js';
import { parsePolicy } from '../../src/policy/parse.js';
import { runSimulator } from '../../src/simulator/run.js';
import { StateStore } from '../../src/state/store.js';
import { cliEnv, runCli } from '../cli/spawn-cli.js';
import { appliedPosition } from '../e2e/replay-equivalence.js';
import { createTopics, DEFAULT_POLICY, readTopic, testConfig, testKafka, uniqueNames, useE2eStack, waitFor } from '../e2e/support.js';
import { lowerThresholdsText } from './policy-population.js';

const PARTITIONS = 2;
const DAY = 86_400_000;

/** The default policy with every threshold lowered (medium too: the simulated bank spends little). */
const loweredText = (version: string): string => lowerThresholdsText(version).replaceAll('4820.00', '1000.00');

interface Change {
  eventId: string;
  customerId: string;
  previousTier: string | null;
  newTier: string;
  cause: string;
  policyVersion: string;
  previousPolicyVersion: string | null;
}

/**
 * Item 1 of the policy issue, as an operator lives it: a scorer runs, `pyramid policy apply`
 * stores a new policy, and the running scorer switches to it without a restart; a scorer started
 * afterwards with the old file is refused, saying what to set.
 */
describe('a running scorer picks up `pyramid policy apply` without a restart', () => {
  const e2e = useE2eStack();
  const dir = mkdtempSync(join(tmpdir(), 'pyramid-live-policy-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('switches every partition at its next commit, one POLICY event (both versions) per customer the diff moves; the old file is refused', async () => {
    const names = uniqueNames('live-policy');
    const brokers = e2e.stack.brokers;
    await createTopics(brokers, [names.transactions], PARTITIONS);
    const producer = testKafka(brokers).createProducer();
    const start = Date.now() - 60 * DAY;
    const first = await runSimulator({ producer, topic: names.transactions, format: 'json', seed: 12, customers: 120, count: 4_000, startTime: start, spacingMs: (50 * DAY) / 4_000, batchSize: 500 });
    const config = testConfig({ brokers, redisUrl: inject('redisUrl'), names, overrides: { clock: 'event' } });
    const scorer = e2e.track(createScorer(config, { tuning: { policyPollMs: 100, reevaluationIntervalMs: 50 } }));
    await scorer.start();
    const store = new StateStore({ redis: e2e.redis, prefix: names.keyPrefix, partitionCount: PARTITIONS });
    expect(await waitFor(async () => (await appliedPosition(e2e.redis, store, names.transactions, PARTITIONS)) === first.sent, 60_000)).toBe(true);
    const oldVersion = scorer.policy.version;

    const file = join(dir, 'lowered.yaml');
    writeFileSync(file, loweredText('live-2'));
    const next = parsePolicy(loweredText('live-2'), file);
    // Nothing flows meanwhile: the diff is exactly what the switch will do.
    const matrix = await policyMoveMatrix({ store, topic: names.transactions, partitions: [0, 1], policy: next, clock: 'event', pauseMs: 0 });
    expect(matrix.moving).toBeGreaterThan(10);
    const env = cliEnv({ brokers, redisUrl: inject('redisUrl'), names, extra: { PYRAMID_CLOCK: 'event' } });
    const applied = await runCli(['policy', 'apply', file], env);
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.stdout).toContain(`is now in force for key prefix ${names.keyPrefix} (was ${oldVersion})`);
    expect(applied.stdout).toContain('Running scorers pick it up without a restart');
    expect(applied.stdout).toContain(`Now set PYRAMID_POLICY_FILE=${file} in the scorers' deployment`);

    const switched = async (): Promise<boolean> => {
      for (let p = 0; p < PARTITIONS; p++) {
        const meta = await store.readMeta(names.transactions, p);
        if (meta?.policyVersion !== 'live-2' || meta.reevaluationCursor !== null || meta.previousPolicyVersion !== oldVersion) return false;
      }
      return true;
    };
    expect(await waitFor(switched, 60_000)).toBe(true);
    expect(scorer.policy.version).toBe('live-2');
    const isPolicy = (r: { value: Buffer | null }): boolean => (JSON.parse(r.value!.toString()) as Change).cause === 'POLICY';
    const records = await readTopic(brokers, names.tierChanges, (r) => r.filter(isPolicy).length >= matrix.moving, 60_000);
    const policyChanges = records.map((r) => JSON.parse(r.value!.toString()) as Change).filter((c) => c.cause === 'POLICY');
    const cells = new Map<string, number>();
    for (const c of policyChanges) cells.set(`${c.previousTier}>${c.newTier}`, (cells.get(`${c.previousTier}>${c.newTier}`) ?? 0) + 1);
    expect(cells).toEqual(new Map(matrix.cells.filter((c) => c.from !== c.to).map((c) => [`${c.from}>${c.to}`, c.customers])));
    expect(new Set(policyChanges.map((c) => c.customerId)).size).toBe(policyChanges.length);
    expect(new Set(policyChanges.map((c) => `${c.previousPolicyVersion}>${c.policyVersion}`))).toEqual(new Set([`${oldVersion}>live-2`]));

    // A scorer (re)started with the old file: refused, naming the policy in force and what to set.
    const refused = await runCli(['run'], { ...env, PYRAMID_POLICY_FILE: DEFAULT_POLICY });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`the policy in force for key prefix ${names.keyPrefix} is version live-2 (applied from ${file}`);
    expect(refused.stderr).toContain(`Set PYRAMID_POLICY_FILE to the live-2 file (${file})`);

    // The running scorer goes on, under the new policy.
    const more = await runSimulator({ producer, topic: names.transactions, format: 'json', seed: 13, customers: 120, count: 500, startTime: start + 51 * DAY, spacingMs: DAY / 500, batchSize: 500 });
    await producer.disconnect();
    expect(await waitFor(async () => (await appliedPosition(e2e.redis, store, names.transactions, PARTITIONS)) === first.sent + more.sent, 60_000)).toBe(true);
    const later = await readTopic(brokers, names.tierChanges, (r) => r.length > records.length && r.some((x) => (JSON.parse(x.value!.toString()) as Change).cause === 'TRANSACTION' && (JSON.parse(x.value!.toString()) as Change).policyVersion === 'live-2'), 30_000);
    const seen = new Set(records.map((r) => (JSON.parse(r.value!.toString()) as Change).eventId));
    const after = later.map((r) => JSON.parse(r.value!.toString()) as Change).filter((c) => !seen.has(c.eventId));
    expect(after.length).toBeGreaterThan(0);
    expect(after.every((c) => c.policyVersion === 'live-2' && c.cause !== 'POLICY')).toBe(true);
  }, 180_000);
});
