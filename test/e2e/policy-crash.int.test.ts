import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import type { KafkaRecord } from '../../src/kafka/types.js';
import { policyMoveMatrix } from '../../src/pipeline/policy-diff.js';
import { createScorer } from '../../src/pipeline/scorer.js';
import { policyContentHash } from '../../src/policy/content-hash.js';
import { storeGroupPolicy } from '../../src/state/group-policy.js';
import { StateStore } from '../../src/state/store.js';
import { createRandom } from '../../src/simulator/random.js';
import { cliEnv, runCli, startCli, type CliProcess } from '../cli/spawn-cli.js';
import { directMoves } from '../pipeline/policy-population.js';
import { shippedPolicy } from '../policy/fixtures.js';
import { loweredPolicy, loweredPolicyText, seedPopulation } from './policy-seed.js';
import { indexChanges, snapshotState } from './replay-equivalence.js';
import { createTopics, readTopic, testConfig, uniqueNames, useE2eStack, waitFor } from './support.js';

const PARTITIONS = 4;
const CUSTOMERS_PER_PARTITION = 6_000;
const DAY = 86_400_000;
const VERSION = 'lowered-crash';

/**
 * The second check of the policy issue: a scorer process SIGKILLed (twice) during the background
 * re-evaluation of a newly applied policy, and restarted, ends exactly like an uninterrupted
 * switch of the same state: the same stored state and the same tier-change events, each seen once
 * by read_committed readers (read_uncommitted ones may see identical repeats of aborted
 * transactions), one POLICY event per customer the diff moves. The population is seeded through
 * the store (see seedPopulation).
 */
describe('SIGKILL during the background re-evaluation of a policy switch', () => {
  const e2e = useE2eStack();
  const dir = mkdtempSync(join(tmpdir(), 'pyramid-policy-crash-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const end = Date.now() - DAY;
  const old = shippedPolicy('default');
  const next = loweredPolicy(VERSION);

  const metas = (store: StateStore, topic: string) => Promise.all(Array.from({ length: PARTITIONS }, (_, p) => store.readMeta(topic, p)));
  const switched = async (store: StateStore, topic: string): Promise<boolean> => (await metas(store, topic)).every((m) => m?.policyVersion === VERSION && m.reevaluationCursor === null);
  /** Share of the customer sub-hashes re-evaluated so far, over all partitions (0 before the switch). */
  const progress = async (store: StateStore, topic: string): Promise<number> => {
    let done = 0;
    for (const meta of await metas(store, topic)) {
      if (meta?.policyVersion !== VERSION) continue;
      done += meta.reevaluationCursor === null ? store.customerShards : Number(meta.reevaluationCursor.split(':')[0]);
    }
    return done / (PARTITIONS * store.customerShards);
  };

  it('ends with the state and the events of an uninterrupted switch, one POLICY event per moving customer', async () => {
    const brokers = e2e.stack.brokers;
    const input = uniqueNames('policy-crash-input');
    await createTopics(brokers, [input.transactions], PARTITIONS);
    const file = join(dir, 'lowered.yaml');
    writeFileSync(file, loweredPolicyText(VERSION));

    // The uninterrupted reference, in process.
    const reference = { ...uniqueNames('policy-crash-reference'), transactions: input.transactions };
    const referenceStore = new StateStore({ redis: e2e.redis, prefix: reference.keyPrefix, partitionCount: PARTITIONS });
    await seedPopulation(referenceStore, input.transactions, old, PARTITIONS, CUSTOMERS_PER_PARTITION, end);
    const matrix = await policyMoveMatrix({ store: referenceStore, topic: input.transactions, partitions: [0, 1, 2, 3], policy: next, clock: 'event', pauseMs: 0 });
    expect(matrix.moving).toBeGreaterThan(5_000);
    const scorer = createScorer(testConfig({ brokers, redisUrl: inject('redisUrl'), names: reference, overrides: { clock: 'event' } }), { tuning: { policyPollMs: 100, reevaluationIntervalMs: 20 } });
    e2e.track(scorer);
    await scorer.start();
    await storeGroupPolicy(e2e.redis, reference.keyPrefix, { version: VERSION, hash: policyContentHash(next), content: loweredPolicyText(VERSION), source: file }, Date.now());
    expect(await waitFor(() => switched(referenceStore, input.transactions), 90_000, 100)).toBe(true);
    await scorer.stop();
    const referenceAppended = (await metas(referenceStore, input.transactions)).reduce((sum, m) => sum + (m?.outboxSeq ?? 0), 0);
    expect(referenceAppended).toBe(matrix.moving);
    const referenceChanges = indexChanges(await readTopic(brokers, reference.tierChanges, (r) => r.length >= referenceAppended, 60_000)).byId;
    expect(referenceChanges.size).toBe(matrix.moving);
    const referenceState = await snapshotState(e2e.redis, referenceStore, input.transactions, PARTITIONS);

    // The same state, switched by a scorer process killed twice mid-way.
    const names = { ...uniqueNames('policy-crash'), transactions: input.transactions };
    const store = new StateStore({ redis: e2e.redis, prefix: names.keyPrefix, partitionCount: PARTITIONS });
    await seedPopulation(store, input.transactions, old, PARTITIONS, CUSTOMERS_PER_PARTITION, end);
    const seedOwners = (await metas(store, input.transactions)).map((m) => m?.owner);
    const env = cliEnv({ brokers, redisUrl: inject('redisUrl'), names, extra: { PYRAMID_CLOCK: 'event' } });
    let cli: CliProcess = startCli(['run'], env);
    // Running once it has claimed every partition (a claim sets a new owner token).
    expect(await waitFor(async () => (await metas(store, input.transactions)).every((m, p) => m?.owner != null && m.owner !== seedOwners[p]), 60_000), cli.stderr()).toBe(true);
    const applied = await runCli(['policy', 'apply', file], env);
    expect(applied.code, applied.stderr).toBe(0);
    // Fresh kill moments each run, printed so a failing run can be replayed with CRASH_TEST_SEED=<seed>.
    const given = process.env.CRASH_TEST_SEED;
    const seed = given !== undefined && /^\d+$/.test(given) ? Number(given) : Math.floor(Math.random() * 2 ** 32);
    const random = createRandom(seed);
    console.error(`policy crash run: kill moments from seed ${seed} (replay with CRASH_TEST_SEED=${seed})`);
    const killedAt: number[] = [];
    for (const [low, high] of [
      [0.1, 0.35],
      [0.45, 0.75],
    ] as const) {
      const target = low + random.next() * (high - low);
      expect(await waitFor(async () => (await progress(store, input.transactions)) >= target || cli.child.exitCode !== null, 90_000, 10), `seed ${seed}`).toBe(true);
      expect(cli.child.exitCode, cli.stderr()).toBeNull();
      const at = await progress(store, input.transactions);
      expect(at, `seed ${seed}: killed during the re-evaluation`).toBeLessThan(1);
      cli.child.kill('SIGKILL');
      expect(await cli.exited).toBe('SIGKILL');
      killedAt.push(at);
      // Restarted as an operator would after the apply: with the new file (the old one is refused).
      cli = startCli(['run'], { ...env, PYRAMID_POLICY_FILE: file });
    }
    expect(await waitFor(() => switched(store, input.transactions), 120_000, 100), cli.stderr()).toBe(true);
    // Let the last outbox flush, then a clean stop.
    await new Promise((r) => setTimeout(r, 1_000));
    cli.child.kill('SIGTERM');
    expect(await cli.exited, cli.stderr()).toBe(0);

    const appended = (await metas(store, input.transactions)).reduce((sum, m) => sum + (m?.outboxSeq ?? 0), 0);
    expect(appended).toBe(matrix.moving);
    const complete = (r: KafkaRecord[]): boolean => indexChanges(r).byId.size >= matrix.moving;
    const committed = indexChanges(await readTopic(brokers, names.tierChanges, complete, 60_000));
    const uncommitted = indexChanges(await readTopic(brokers, names.tierChanges, complete, 60_000, 'read_uncommitted'));
    console.error(
      `policy crash run: SIGKILLs at ${killedAt.map((a) => `${(a * 100).toFixed(0)} %`).join(' and ')} of the re-evaluation; ` +
        `${matrix.moving} POLICY events, ${uncommitted.repeated} repeats for read_uncommitted (identical content)`,
    );
    // read_committed: each change once, exactly the reference's, identical content.
    expect(committed.repeated).toBe(0);
    expect(committed.conflicting).toEqual([]);
    expect(committed.byId.size).toBe(matrix.moving);
    expect([...committed.byId].filter(([id, text]) => referenceChanges.get(id) !== text)).toEqual([]);
    // read_uncommitted: repeats only with identical content.
    expect(uncommitted.conflicting).toEqual([]);
    expect([...uncommitted.byId].filter(([id, text]) => committed.byId.get(id) !== text)).toEqual([]);
    // One POLICY event per moving customer, both versions in each.
    const events = [...committed.byId.values()].map((text) => JSON.parse(text) as { customerId: string; cause: string; policyVersion: string; previousPolicyVersion: string | null });
    expect(events.every((e) => e.cause === 'POLICY' && e.policyVersion === VERSION && e.previousPolicyVersion === old.version)).toBe(true);
    expect(new Set(events.map((e) => e.customerId)).size).toBe(matrix.moving);
    // The state: the uninterrupted switch's, and every customer on the new policy's tier.
    const state = await snapshotState(e2e.redis, store, input.transactions, PARTITIONS);
    expect(state.size).toBe(referenceState.size);
    expect([...state].filter(([k, v]) => referenceState.get(k) !== v)).toEqual([]);
    const after = await directMoves(e2e.redis, store, input.transactions, PARTITIONS, next);
    expect([...after.keys()].filter((key) => key.split('>')[0] !== key.split('>')[1])).toEqual([]);
  }, 300_000);
});
