import { describe, expect, it } from 'vitest';
import { Instrumentation } from '../../src/instrumentation.js';
import { createHealth } from '../../src/ops/health.js';
import { idleMemberVerdict, kafkaGroupProbe, type GroupView } from '../../src/pipeline/readiness-probes.js';
import { createMetrics } from '../../src/ops/metrics.js';

const member = (memberId: string, ...partitions: number[]) => ({ memberId, partitions: partitions.map((partition) => ({ topic: 'tx', partition })) });

describe('idleMemberVerdict', () => {
  it('lets a member without partitions be ready only when every partition is held by another member', () => {
    const crowded: GroupView = { state: 'Stable', members: [member('a', 0), member('b', 1), member('idle')] };
    expect(idleMemberVerdict(crowded, 'idle', 'tx', 2)).toEqual({ ok: true, detail: 'idle member: all 2 partitions of tx are held by the other 2 members' });

    const orphaned: GroupView = { state: 'Stable', members: [member('a', 0), member('idle')] };
    expect(idleMemberVerdict(orphaned, 'idle', 'tx', 3)).toEqual({ ok: false, detail: 'holds no partitions while partitions 1, 2 of tx have no owner' });
  });

  it('is not ready during a rebalance, when the coordinator forgot the member, or with an assignment not taken up', () => {
    expect(idleMemberVerdict({ state: 'PreparingRebalance', members: [member('a', 0), member('idle')] }, 'idle', 'tx', 1)).toEqual({
      ok: false,
      detail: 'holds no partitions; the group is PreparingRebalance',
    });
    expect(idleMemberVerdict({ state: 'Stable', members: [member('a', 0)] }, 'zombie', 'tx', 1).detail).toBe(
      'holds no partitions, and the group coordinator does not list member zombie',
    );
    expect(idleMemberVerdict({ state: 'Stable', members: [member('a', 0), member('late', 1)] }, 'late', 'tx', 2).ok).toBe(false);
  });

  it('counts only the subscribed topic', () => {
    const view: GroupView = { state: 'Stable', members: [{ memberId: 'a', partitions: [{ topic: 'other', partition: 0 }] }, member('idle')] };
    expect(idleMemberVerdict(view, 'idle', 'tx', 1).ok).toBe(false);
  });
});

describe('kafkaGroupProbe', () => {
  const groupOf = (view: GroupView) => {
    const bus = new Instrumentation();
    const asked: GroupView[] = [];
    const probe = kafkaGroupProbe(bus, {
      topic: 'tx',
      partitionCount: 2,
      describeGroup: () => {
        asked.push(view);
        return Promise.resolve(view);
      },
    });
    return { bus, probe, asked, health: createHealth({ probes: [probe] }) };
  };

  it('is not ready after a crash that kafkajs restarts, and ready again on its own at the next join', async () => {
    const { bus, probe, asked } = groupOf({ state: 'Stable', members: [] });
    expect(await probe.check()).toEqual({ ok: false, detail: 'consumer group not joined yet' });
    bus.emit('consumer.group_joined', { groupId: 'g', memberId: 'm-1', partitions: 2 });
    expect(await probe.check()).toEqual({ ok: true, detail: 'member of g, 2 partitions' });

    // What kafkajs does on a crash it restarts: STOP, DISCONNECT, then CRASH with restart = true.
    bus.emit('consumer.group_left', { groupId: 'g', reason: 'stopped' });
    bus.emit('consumer.crash', { groupId: 'g', error: 'Connection error: connect ECONNREFUSED 127.0.0.1:9092', restarting: true });
    expect(await probe.check()).toEqual({ ok: false, detail: 'consumer crashed, kafkajs is restarting it: Connection error: connect ECONNREFUSED 127.0.0.1:9092' });

    bus.emit('consumer.group_joined', { groupId: 'g', memberId: 'm-2', partitions: 1 });
    expect((await probe.check()).ok).toBe(true);
    bus.emit('consumer.group_rebalancing', { groupId: 'g', memberId: 'm-2' });
    expect(await probe.check()).toEqual({ ok: false, detail: 'g is rebalancing' });
    bus.emit('consumer.crash', { groupId: 'g', error: 'STATE_LAYOUT_MISMATCH', restarting: false });
    expect((await probe.check()).detail).toBe('consumer crashed and stopped: STATE_LAYOUT_MISMATCH');
    // Holding partitions, the coordinator is never asked.
    expect(asked).toEqual([]);
    probe.close();
  });

  it('asks the coordinator only while the member holds nothing, and says which partitions nobody holds', async () => {
    const { bus, health, asked } = groupOf({ state: 'Stable', members: [member('m-1'), member('other', 0)] });
    bus.emit('consumer.group_joined', { groupId: 'g', memberId: 'm-1', partitions: 0 });
    expect((await health.ready()).body).toEqual({
      status: 'not ready',
      checks: { 'kafka-group': { ok: false, detail: 'member of g: holds no partitions while partitions 1 of tx have no owner' } },
    });
    expect(asked).toHaveLength(1);
  });

  it('is ready as an idle member of a group with more members than partitions', async () => {
    const { bus, health } = groupOf({ state: 'Stable', members: [member('m-1'), member('a', 0), member('b', 1)] });
    bus.emit('consumer.group_joined', { groupId: 'g', memberId: 'm-1', partitions: 0 });
    expect(await health.ready()).toMatchObject({ ok: true, body: { checks: { 'kafka-group': { ok: true, detail: 'member of g: idle member: all 2 partitions of tx are held by the other 2 members' } } } });
  });
});

describe('consumer crash metrics', () => {
  it('counts crashes by whether kafkajs restarts the consumer, and drops group membership to 0', async () => {
    const bus = new Instrumentation();
    const metrics = createMetrics(bus, { collectDefaults: false });
    bus.emit('consumer.group_joined', { groupId: 'g', memberId: 'm', partitions: 3 });
    bus.emit('consumer.crash', { groupId: 'g', error: 'broker down', restarting: true });
    bus.emit('consumer.crash', { groupId: 'g', error: 'broker down', restarting: true });
    const text = await metrics.registry.metrics();
    expect(text).toContain('pyramid_consumer_crashes_total{group="g",restarting="true"} 2');
    expect(text).toContain('pyramid_consumer_group_member{group="g"} 0');
    bus.emit('consumer.crash', { groupId: 'g', error: 'bad layout', restarting: false });
    expect(await metrics.registry.metrics()).toContain('pyramid_consumer_crashes_total{group="g",restarting="false"} 1');
    metrics.close();
  });
});
