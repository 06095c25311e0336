import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { groupCoordinatorPlugin, startBroker, type BrokerHandle } from '@pyramid/devstack';
import { isPyramidError, PyramidError } from '../../src/errors.js';
import { createKafkaClient, type PyramidKafka } from '../../src/kafka/client.js';
import type { ConsumerOptions } from '../../src/kafka/consumer.js';
import { createOutboxRelay, relayProgressGroupId, type OutboxRelay } from '../../src/pipeline/outbox-relay.js';
import { createJsonSignalEncoder } from '../../src/pipeline/signal-encoder.js';
import { createJsonTierChangeEncoder } from '../../src/pipeline/tier-change-encoder.js';
import { StateStore } from '../../src/state/store.js';
import { kcat } from '../../packages/devstack/test/helpers/kcat.js';
import { uniqueName } from '../helpers/unique.js';
import { waitFor } from '../e2e/support.js';
import { useStateRedis } from '../state/store-helpers.js';
import { appendChanges, appendMixed } from './outbox-fixture.js';
import type { RelayChildOptions } from './relay-child.js';

const ROOT = resolve(import.meta.dirname, '../..');

describe('outbox relay (transactional)', () => {
  let broker: BrokerHandle;
  let kafka: PyramidKafka;
  const { redis, newPrefix } = useStateRedis();
  const relays: OutboxRelay[] = [];

  beforeAll(async () => {
    // Timed-out transactions are looked for often, so the timeout test need not wait long.
    broker = await startBroker({ port: 0, autoCreateTopics: false, plugins: [groupCoordinatorPlugin()], transactions: { abortCheckIntervalMs: 100 } });
    kafka = createKafkaClient({ brokers: [broker.address], clientId: 'relay-test', tls: { enabled: false, rejectUnauthorized: true } });
  });
  afterAll(async () => {
    for (const relay of relays) await relay.close();
    await broker.close();
  });

  /** A 1-partition input topic, a 2-partition tier-changes topic, a store and a group id. */
  async function setup(base: string) {
    const input = uniqueName(`${base}-tx`);
    const tierChanges = uniqueName(`${base}-tiers`);
    const admin = kafka.createAdmin();
    await admin.connect();
    await admin.ensureTopics([
      { topic: input, numPartitions: 1 },
      { topic: tierChanges, numPartitions: 2 },
    ]);
    await admin.disconnect();
    const prefix = newPrefix(base);
    const store = new StateStore({ redis, prefix, partitionCount: 1 });
    return { input, tierChanges, prefix, store, groupId: uniqueName(`${base}-group`) };
  }

  function relayFor(store: StateStore, groupId: string, tierChanges: string): OutboxRelay {
    const relay = createOutboxRelay({
      store,
      groupId,
      createProducer: (transactionalId) => kafka.createTransactionalProducer({ transactionalId }),
      topic: tierChanges,
      encoder: createJsonTierChangeEncoder(),
      signals: { topic: `${tierChanges}-signals`, encoder: createJsonSignalEncoder() },
      chunk: 7,
    });
    relays.push(relay);
    return relay;
  }

  /** Event ids on `topic` as a kafkajs reader of `isolation` sees them, once it has `count`. */
  async function eventIds(topic: string, count: number, isolation: ConsumerOptions['isolation']): Promise<string[]> {
    const consumer = kafka.createConsumer({ groupId: uniqueName('relay-reader'), isolation, maxWaitTimeMs: 100, heartbeatIntervalMs: 500 });
    const ids: string[] = [];
    await consumer.connect();
    await consumer.subscribe([topic], { fromBeginning: true });
    await consumer.run(async (batch) => {
      for (const r of batch.records) ids.push((JSON.parse(r.value?.toString() ?? '{}') as { eventId?: string }).eventId ?? `(no event id: ${r.value?.toString()})`);
    });
    await waitFor(() => ids.length >= count, 30_000, 50);
    await consumer.disconnect();
    return ids;
  }

  /** Every record value on `topic`, as kcat reads it to the end with `isolation`. */
  async function kcatValues(topic: string, isolation: 'read_committed' | 'read_uncommitted'): Promise<string[]> {
    const out = await kcat(['-C', '-b', broker.address, '-t', topic, '-o', 'beginning', '-e', '-q', '-X', `isolation.level=${isolation}`, '-f', '%s\n']);
    expect(out.code, out.stderr).toBe(0);
    return out.stdout.split('\n').filter((line) => line !== '');
  }

  const idsOf = (values: string[]): string[] => values.map((v) => (JSON.parse(v) as { eventId: string }).eventId);
  const sorted = (ids: string[]): string[] => [...ids].sort();

  /** Starts relay-child.ts on the setup's partition and resolves once its EndTxn was swallowed. */
  async function relayKilledBeforeCommit(s: Awaited<ReturnType<typeof setup>>, transactionTimeoutMs: number): Promise<void> {
    const childOptions: RelayChildOptions = { brokers: [broker.address], redisUrl: inject('redisUrl'), prefix: s.prefix, input: s.input, tierChanges: s.tierChanges, groupId: s.groupId, transactionTimeoutMs };
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/pipeline/relay-child.ts', JSON.stringify(childOptions)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<string | number | null>((done) => child.once('exit', (code, signal) => done(signal ?? code)));
    const held = await waitFor(() => stdout.includes('END_TXN') || child.exitCode !== null, 30_000, 20);
    expect(held && stdout.includes('END_TXN'), `the child relay never reached its commit: ${stderr}`).toBe(true);
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
  }

  it('publishes the outbox in transactions and records its progress; a new relay skips (and trims) what is published, even when the trim was lost', async () => {
    const s = await setup('relay-resume');
    const ids = await appendChanges(s.store, s.input, 0, 10);
    const first = relayFor(s.store, s.groupId, s.tierChanges);
    // The publish commits, then the trim fails: the entries stay in the outbox.
    const trim = s.store.trimOutbox.bind(s.store);
    s.store.trimOutbox = () => Promise.reject(new PyramidError('REDIS_UNAVAILABLE', 'connection dropped', { retriable: true }));
    await expect(first.flush(s.input, 0)).rejects.toMatchObject({ code: 'REDIS_UNAVAILABLE' });
    s.store.trimOutbox = trim;
    expect(await s.store.outboxLength(s.input, 0)).toBe(10);
    await first.close();

    // Chunks of 7: the first transaction (entries 1-7) committed with progress 8, then its trim failed.
    const progress = kafka.createAdmin();
    await progress.connect();
    expect(await progress.committedOffsets(relayProgressGroupId(s.groupId), s.input)).toEqual([{ partition: 0, offset: '8' }]);
    await progress.disconnect();

    // A new relay (a restart) skips entries 1-7 and publishes only 8-10.
    const second = relayFor(s.store, s.groupId, s.tierChanges);
    expect(await second.flush(s.input, 0)).toEqual({ published: 3, complete: true });
    expect(await s.store.outboxLength(s.input, 0)).toBe(0);
    const more = await appendChanges(s.store, s.input, 0, 2);
    expect(await second.flush(s.input, 0)).toEqual({ published: 2, complete: true });
    expect(sorted(await eventIds(s.tierChanges, 12, 'read_committed'))).toEqual(sorted([...ids, ...more]));
    expect(sorted(idsOf(await kcatValues(s.tierChanges, 'read_committed')))).toEqual(sorted([...ids, ...more]));
  });

  it('publishes signals to the signals topic and changes to the tier-changes topic in the same transactions, each exactly once across a restart', async () => {
    const s = await setup('relay-signals');
    const signalsTopic = `${s.tierChanges}-signals`;
    const admin = kafka.createAdmin();
    await admin.connect();
    await admin.ensureTopics([{ topic: signalsTopic, numPartitions: 2 }]);
    await admin.disconnect();
    const first = await appendMixed(s.store, s.input, 0, 10, 3);
    const relay = relayFor(s.store, s.groupId, s.tierChanges);
    // Chunks of 7 entries, both kinds together: two transactions, progress 11.
    expect(await relay.flush(s.input, 0)).toEqual({ published: 10, complete: true });
    await relay.close();
    const second = await appendMixed(s.store, s.input, 0, 4, 2);
    const restarted = relayFor(s.store, s.groupId, s.tierChanges);
    expect(await restarted.flush(s.input, 0)).toEqual({ published: 4, complete: true });
    const progress = kafka.createAdmin();
    await progress.connect();
    expect(await progress.committedOffsets(relayProgressGroupId(s.groupId), s.input)).toEqual([{ partition: 0, offset: '15' }]);
    await progress.disconnect();

    const signalIds = [...first.signalIds, ...second.signalIds];
    const eventIdsExpected = [...first.eventIds, ...second.eventIds];
    expect(signalIds).toHaveLength(5);
    expect(sorted(idsOf(await kcatValues(s.tierChanges, 'read_committed')))).toEqual(sorted(eventIdsExpected));
    const published = (await kcatValues(signalsTopic, 'read_committed')).map((v) => JSON.parse(v) as { signalId: string; eventId?: string });
    expect(sorted(published.map((v) => v.signalId))).toEqual(sorted(signalIds));
    // Tier-change subscribers see tier changes only.
    expect(published.every((v) => v.eventId === undefined)).toBe(true);
  });

  it('a zombie relay (a second relay of the same partition claimed it) is fenced: nothing it sends afterwards becomes visible', async () => {
    const s = await setup('relay-zombie');
    const before = await appendChanges(s.store, s.input, 0, 5);
    const zombie = relayFor(s.store, s.groupId, s.tierChanges);
    expect(await zombie.flush(s.input, 0)).toEqual({ published: 5, complete: true });

    const after = await appendChanges(s.store, s.input, 0, 4);
    const owner = relayFor(s.store, s.groupId, s.tierChanges);
    // The owner's first flush claims the transactional id.
    expect(await owner.flush(s.input, 0)).toEqual({ published: 4, complete: true });

    const late = await appendChanges(s.store, s.input, 0, 3);
    const fenced = await zombie.flush(s.input, 0).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(isPyramidError(fenced, 'KAFKA_PRODUCER_FENCED'), String(fenced)).toBe(true);
    // Fenced for good: it does not claim the id back (that would fence the owner).
    await expect(zombie.flush(s.input, 0)).rejects.toBe(fenced);
    expect(await s.store.outboxLength(s.input, 0)).toBe(3);
    expect(await owner.flush(s.input, 0)).toEqual({ published: 3, complete: true });

    const all = sorted([...before, ...after, ...late]);
    expect(sorted(await eventIds(s.tierChanges, all.length, 'read_committed'))).toEqual(all);
    expect(sorted(idsOf(await kcatValues(s.tierChanges, 'read_committed')))).toEqual(all);
  });

  it('a relay SIGKILLed between produce and commit: the next relay aborts its transaction, which read_committed readers (kafkajs and kcat) never see', async () => {
    const s = await setup('relay-killed');
    const ids = await appendChanges(s.store, s.input, 0, 6);
    await relayKilledBeforeCommit(s, 60_000);
    expect(await s.store.outboxLength(s.input, 0)).toBe(6);

    const next = relayFor(s.store, s.groupId, s.tierChanges);
    expect(await next.flush(s.input, 0)).toEqual({ published: 6, complete: true });
    expect(sorted(await eventIds(s.tierChanges, 6, 'read_committed'))).toEqual(sorted(ids));
    expect(sorted(idsOf(await kcatValues(s.tierChanges, 'read_committed')))).toEqual(sorted(ids));
    // The aborted records are in the log: a read_uncommitted reader sees each change twice, identical.
    const uncommitted = await kcatValues(s.tierChanges, 'read_uncommitted');
    expect(sorted(idsOf(uncommitted))).toEqual(sorted([...ids, ...ids]));
    expect(new Set(uncommitted).size).toBe(ids.length);
  });

  it('a transaction left open past its timeout is aborted by the broker and never seen by read_committed readers (kafkajs and kcat)', async () => {
    const s = await setup('relay-timeout');
    const ids = await appendChanges(s.store, s.input, 0, 4);
    await relayKilledBeforeCommit(s, 1_000);
    // A record after the open transaction: read_committed readers get it only once the
    // transaction is over (the last stable offset holds them back until then).
    const plain = kafka.createProducer();
    await plain.send(s.tierChanges, [{ key: 'marker', value: JSON.stringify({ eventId: 'marker' }), partition: 0 }, { key: 'marker', value: JSON.stringify({ eventId: 'marker' }), partition: 1 }]);
    await plain.disconnect();
    expect(await eventIds(s.tierChanges, 2, 'read_committed')).toEqual(['marker', 'marker']);
    expect(idsOf(await kcatValues(s.tierChanges, 'read_committed'))).toEqual(['marker', 'marker']);
    expect(sorted(idsOf(await kcatValues(s.tierChanges, 'read_uncommitted')))).toEqual(sorted([...ids, 'marker', 'marker']));
  });
});
