import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { GroupCoordinator, type JoinGroupInput } from '../../../src/broker/group/coordinator.js';
import type { JoinResult } from '../../../src/broker/group/group.js';
import { OffsetStore } from '../../../src/broker/group/offset-store.js';
import { silentLogger } from '../../../src/logger.js';

const MEMBER_ID_REQUIRED = 79;
const REBALANCE_IN_PROGRESS = 27;
const UNKNOWN_MEMBER_ID = 25;
const ILLEGAL_GENERATION = 22;
const INCONSISTENT_GROUP_PROTOCOL = 23;
const INVALID_SESSION_TIMEOUT = 26;
const NOT_COORDINATOR = 16;

const GROUP = 'g';
const meta = (s: string): Buffer => Buffer.from(s);

function joinInput(clientId: string, overrides: Partial<JoinGroupInput> = {}): JoinGroupInput {
  return {
    groupId: GROUP,
    memberId: '',
    groupInstanceId: null,
    clientId,
    clientHost: '/127.0.0.1',
    sessionTimeoutMs: 10_000,
    rebalanceTimeoutMs: 30_000,
    protocolType: 'consumer',
    protocols: [{ name: 'RoundRobinAssigner', metadata: meta(`${clientId}-meta`) }],
    requireKnownMemberId: true,
    ...overrides,
  };
}

/** Tracks whether a possibly held response has arrived yet. */
function track<T>(value: Promise<T> | T): { settled: () => boolean; result: () => T } {
  let done = false;
  let out: T | undefined;
  void Promise.resolve(value).then((v) => {
    done = true;
    out = v;
  });
  return { settled: () => done, result: () => out as T };
}

/** Lets resolved promises run their callbacks (fake timers do not do that by themselves). */
const flush = async (): Promise<void> => {
  await vi.advanceTimersByTimeAsync(0);
};

describe('GroupCoordinator', () => {
  let coordinator: GroupCoordinator;

  beforeEach(() => {
    vi.useFakeTimers();
    coordinator = new GroupCoordinator(OffsetStore.open(null, silentLogger), { logger: silentLogger });
  });

  afterEach(() => {
    coordinator.close();
    vi.useRealTimers();
  });

  /** The KIP-394 first join; returns the member id the coordinator handed out. */
  async function firstJoin(clientId: string, overrides: Partial<JoinGroupInput> = {}): Promise<string> {
    const r = await coordinator.join(joinInput(clientId, overrides));
    expect(r.errorCode).toBe(MEMBER_ID_REQUIRED);
    return r.memberId;
  }

  /** Both joins of a lone member into an empty group, then its sync with `assignment`. */
  async function soloStable(clientId: string): Promise<{ memberId: string; join: JoinResult }> {
    const memberId = await firstJoin(clientId);
    const join = await coordinator.join(joinInput(clientId, { memberId }));
    const sync = await coordinator.sync({
      groupId: GROUP,
      generationId: join.generationId,
      memberId,
      assignments: new Map([[memberId, meta('all')]]),
    });
    expect(sync.errorCode).toBe(0);
    return { memberId, join };
  }

  it('answers a first JoinGroup with MEMBER_ID_REQUIRED and a <client.id>-<uuid> id, then admits that id (KIP-394)', async () => {
    const first = await coordinator.join(joinInput('wire-cA'));
    expect(first).toMatchObject({ errorCode: MEMBER_ID_REQUIRED, generationId: -1, protocolName: '', leaderId: '', members: [] });
    expect(first.memberId).toMatch(/^wire-cA-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);

    const second = await coordinator.join(joinInput('wire-cA', { memberId: first.memberId }));
    expect(second).toMatchObject({
      errorCode: 0,
      generationId: 1,
      protocolName: 'RoundRobinAssigner',
      leaderId: first.memberId,
      memberId: first.memberId,
    });
    expect(second.members).toEqual([{ memberId: first.memberId, groupInstanceId: null, metadata: meta('wire-cA-meta') }]);
    expect(coordinator.describe(GROUP).state).toBe('CompletingRebalance');
  });

  it('rejects a member id it never handed out', async () => {
    const r = await coordinator.join(joinInput('x', { memberId: 'x-made-up' }));
    expect(r.errorCode).toBe(UNKNOWN_MEMBER_ID);
  });

  it('admits a JoinGroup below v4 without the MEMBER_ID_REQUIRED round trip', async () => {
    const r = await coordinator.join(joinInput('old', { requireKnownMemberId: false }));
    expect(r.errorCode).toBe(0);
    expect(r.memberId).toMatch(/^old-/);
    expect(r.leaderId).toBe(r.memberId);
  });

  it('holds JoinGroups until every member that got an id has rejoined; leader gets the members, followers []', async () => {
    const a = await firstJoin('A');
    const b = await firstJoin('B');
    const joinA = track(coordinator.join(joinInput('A', { memberId: a })));
    await flush();
    expect(joinA.settled()).toBe(false);

    const joinB = track(coordinator.join(joinInput('B', { memberId: b })));
    await flush();
    expect(joinA.settled() && joinB.settled()).toBe(true);
    expect(joinA.result()).toMatchObject({ errorCode: 0, generationId: 1, leaderId: a });
    expect(joinA.result().members.map((m) => m.memberId)).toEqual([a, b]);
    expect(joinB.result()).toMatchObject({ errorCode: 0, generationId: 1, leaderId: a, members: [] });
  });

  it('picks the protocol all members support, by the members\' preference', async () => {
    const rangeFirst = [
      { name: 'range', metadata: meta('r') },
      { name: 'roundrobin', metadata: meta('rr') },
    ];
    const a = await firstJoin('kcat1', { protocols: rangeFirst });
    const b = await firstJoin('kcat2', { protocols: rangeFirst });
    const joinA = track(coordinator.join(joinInput('kcat1', { memberId: a, protocols: rangeFirst })));
    await coordinator.join(joinInput('kcat2', { memberId: b, protocols: rangeFirst }));
    await flush();
    expect(joinA.result().protocolName).toBe('range');
    expect(joinA.result().members.map((m) => m.metadata.toString())).toEqual(['r', 'r']);

    // A member that only speaks roundrobin may join; the group then has to use roundrobin.
    const onlyRoundRobin = [{ name: 'roundrobin', metadata: meta('rr3') }];
    const c = await firstJoin('other', { protocols: onlyRoundRobin });
    const joinC = track(coordinator.join(joinInput('other', { memberId: c, protocols: onlyRoundRobin })));
    const rejoinA = track(coordinator.join(joinInput('kcat1', { memberId: a, protocols: rangeFirst })));
    const rejoinB = track(coordinator.join(joinInput('kcat2', { memberId: b, protocols: rangeFirst })));
    await flush();
    expect([joinC, rejoinA, rejoinB].every((j) => j.settled())).toBe(true);
    expect(rejoinA.result()).toMatchObject({ generationId: 2, protocolName: 'roundrobin', leaderId: a });
    expect(rejoinA.result().members.map((m) => m.metadata.toString())).toEqual(['rr', 'rr', 'rr3']);

    const incompatible = await coordinator.join(joinInput('cg', { protocols: [{ name: 'sticky', metadata: meta('s') }] }));
    expect(incompatible.errorCode).toBe(INCONSISTENT_GROUP_PROTOCOL);
  });

  it('holds a follower\'s SyncGroup until the leader brings the assignment; unassigned members get empty bytes', async () => {
    const a = await firstJoin('A');
    const b = await firstJoin('B');
    const joinA = coordinator.join(joinInput('A', { memberId: a }));
    const joinB = coordinator.join(joinInput('B', { memberId: b }));
    const [ja] = await Promise.all([joinA, joinB]);

    const syncB = track(coordinator.sync({ groupId: GROUP, generationId: ja.generationId, memberId: b, assignments: new Map() }));
    await flush();
    expect(syncB.settled()).toBe(false);

    const syncA = await coordinator.sync({
      groupId: GROUP,
      generationId: ja.generationId,
      memberId: a,
      assignments: new Map([[a, meta('p0,p1,p2')]]),
    });
    await flush();
    expect(syncA).toEqual({ errorCode: 0, assignment: meta('p0,p1,p2') });
    expect(syncB.result()).toEqual({ errorCode: 0, assignment: Buffer.alloc(0) });
    expect(coordinator.describe(GROUP)).toMatchObject({ state: 'Stable', protocolData: 'RoundRobinAssigner' });
  });

  it('rebalances when a member joins a Stable group; the longest-standing member stays leader', async () => {
    const { memberId: a } = await soloStable('A');
    expect(coordinator.heartbeat({ groupId: GROUP, generationId: 1, memberId: a })).toBe(0);

    const c = await firstJoin('C');
    const joinC = track(coordinator.join(joinInput('C', { memberId: c })));
    await flush();
    expect(joinC.settled()).toBe(false);
    expect(coordinator.describe(GROUP).state).toBe('PreparingRebalance');
    expect(coordinator.heartbeat({ groupId: GROUP, generationId: 1, memberId: a })).toBe(REBALANCE_IN_PROGRESS);

    const rejoinA = await coordinator.join(joinInput('A', { memberId: a }));
    await flush();
    expect(rejoinA).toMatchObject({ generationId: 2, leaderId: a });
    expect(joinC.result()).toMatchObject({ generationId: 2, leaderId: a, members: [] });
  });

  it('answers Heartbeat with UNKNOWN_MEMBER_ID and ILLEGAL_GENERATION when they apply', async () => {
    const { memberId } = await soloStable('A');
    expect(coordinator.heartbeat({ groupId: GROUP, generationId: 1, memberId: 'nobody' })).toBe(UNKNOWN_MEMBER_ID);
    expect(coordinator.heartbeat({ groupId: 'no-such-group', generationId: 1, memberId })).toBe(UNKNOWN_MEMBER_ID);
    expect(coordinator.heartbeat({ groupId: GROUP, generationId: 7, memberId })).toBe(ILLEGAL_GENERATION);
    expect(coordinator.heartbeat({ groupId: GROUP, generationId: 1, memberId })).toBe(0);
  });

  it('removes members that do not rejoin within the rebalance timeout', async () => {
    const a = await firstJoin('A', { rebalanceTimeoutMs: 5_000 });
    const b = await firstJoin('B', { rebalanceTimeoutMs: 5_000 });
    const ja = coordinator.join(joinInput('A', { memberId: a, rebalanceTimeoutMs: 5_000 }));
    const jb = coordinator.join(joinInput('B', { memberId: b, rebalanceTimeoutMs: 5_000 }));
    const [gen1] = await Promise.all([ja, jb]);
    await coordinator.sync({ groupId: GROUP, generationId: gen1.generationId, memberId: a, assignments: new Map() });
    await coordinator.sync({ groupId: GROUP, generationId: gen1.generationId, memberId: b, assignments: new Map() });

    // B asks for a rebalance by rejoining with new metadata; A never comes back.
    const rejoinB = track(coordinator.join(joinInput('B', { memberId: b, rebalanceTimeoutMs: 5_000, protocols: [{ name: 'RoundRobinAssigner', metadata: meta('new') }] })));
    await vi.advanceTimersByTimeAsync(4_999);
    expect(rejoinB.settled()).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(rejoinB.result()).toMatchObject({ errorCode: 0, generationId: 2, leaderId: b });
    expect(rejoinB.result().members.map((m) => m.memberId)).toEqual([b]);
    expect(coordinator.heartbeat({ groupId: GROUP, generationId: 2, memberId: a })).toBe(UNKNOWN_MEMBER_ID);
  });

  it('expires a member whose heartbeats stop, and the survivors rebalance without it', async () => {
    const a = await firstJoin('A');
    const b = await firstJoin('B');
    const [ja] = await Promise.all([
      coordinator.join(joinInput('A', { memberId: a })),
      coordinator.join(joinInput('B', { memberId: b })),
    ]);
    const syncB = coordinator.sync({ groupId: GROUP, generationId: 1, memberId: b, assignments: new Map() });
    await coordinator.sync({ groupId: GROUP, generationId: ja.generationId, memberId: a, assignments: new Map() });
    await syncB;

    // A keeps heartbeating every 3 s; B goes silent. Session timeout is 10 s.
    for (let t = 0; t < 9_000; t += 3_000) {
      await vi.advanceTimersByTimeAsync(3_000);
      expect(coordinator.heartbeat({ groupId: GROUP, generationId: 1, memberId: a })).toBe(0);
    }
    await vi.advanceTimersByTimeAsync(1_500);
    expect(coordinator.heartbeat({ groupId: GROUP, generationId: 1, memberId: a })).toBe(REBALANCE_IN_PROGRESS);
    expect(coordinator.heartbeat({ groupId: GROUP, generationId: 1, memberId: b })).toBe(UNKNOWN_MEMBER_ID);

    const rejoinA = await coordinator.join(joinInput('A', { memberId: a }));
    expect(rejoinA).toMatchObject({ generationId: 2, leaderId: a });
    expect(rejoinA.members.map((m) => m.memberId)).toEqual([a]);
  });

  it('expires a leader that never sends SyncGroup and tells the waiting follower to rejoin', async () => {
    const a = await firstJoin('A');
    const b = await firstJoin('B');
    await Promise.all([coordinator.join(joinInput('A', { memberId: a })), coordinator.join(joinInput('B', { memberId: b }))]);
    const syncB = track(coordinator.sync({ groupId: GROUP, generationId: 1, memberId: b, assignments: new Map() }));
    await vi.advanceTimersByTimeAsync(10_000);
    expect(syncB.result()).toEqual({ errorCode: REBALANCE_IN_PROGRESS, assignment: Buffer.alloc(0) });
    const rejoinB = await coordinator.join(joinInput('B', { memberId: b }));
    expect(rejoinB).toMatchObject({ generationId: 2, leaderId: b });
  });

  it('lets the barrier proceed when a member that got MEMBER_ID_REQUIRED never comes back', async () => {
    const a = await firstJoin('A');
    await firstJoin('ghost');
    const joinA = track(coordinator.join(joinInput('A', { memberId: a })));
    await vi.advanceTimersByTimeAsync(9_999);
    expect(joinA.settled()).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(joinA.result()).toMatchObject({ errorCode: 0, generationId: 1, leaderId: a });
  });

  it('LeaveGroup removes members (each with its own error) and rebalances the rest', async () => {
    const a = await firstJoin('A');
    const b = await firstJoin('B');
    await Promise.all([coordinator.join(joinInput('A', { memberId: a })), coordinator.join(joinInput('B', { memberId: b }))]);
    const syncB = coordinator.sync({ groupId: GROUP, generationId: 1, memberId: b, assignments: new Map() });
    await coordinator.sync({ groupId: GROUP, generationId: 1, memberId: a, assignments: new Map() });
    await syncB;

    expect(coordinator.leave(GROUP, [b, 'nobody'])).toEqual({
      errorCode: 0,
      members: [
        { memberId: b, errorCode: 0 },
        { memberId: 'nobody', errorCode: UNKNOWN_MEMBER_ID },
      ],
    });
    expect(coordinator.heartbeat({ groupId: GROUP, generationId: 1, memberId: a })).toBe(REBALANCE_IN_PROGRESS);
    const rejoinA = await coordinator.join(joinInput('A', { memberId: a }));
    expect(rejoinA.members.map((m) => m.memberId)).toEqual([a]);

    expect(coordinator.leave('no-such-group', [a]).members).toEqual([{ memberId: a, errorCode: UNKNOWN_MEMBER_ID }]);
  });

  it('a group whose last member leaves becomes Empty and bumps its generation', async () => {
    const { memberId } = await soloStable('A');
    coordinator.leave(GROUP, [memberId]);
    await flush();
    expect(coordinator.describe(GROUP)).toMatchObject({ state: 'Empty', members: [] });
    expect(coordinator.list()).toEqual([{ groupId: GROUP, protocolType: 'consumer' }]);
  });

  it('checks generation and member on OffsetCommit; generation -1 commits only into an Empty group', async () => {
    const entry = { topic: 't', partition: 0, offset: 42, metadata: '' };
    expect(coordinator.commitOffsets({ groupId: 'fresh', generationId: 3, memberId: 'm' }, [entry])).toBe(ILLEGAL_GENERATION);
    expect(coordinator.commitOffsets({ groupId: 'simple', generationId: -1, memberId: '' }, [entry])).toBe(0);
    expect(coordinator.committedOffset('simple', 't', 0)).toEqual({ offset: 42, metadata: '' });

    const { memberId } = await soloStable('A');
    expect(coordinator.commitOffsets({ groupId: GROUP, generationId: 1, memberId }, [{ ...entry, offset: 7, metadata: 'm' }])).toBe(0);
    expect(coordinator.commitOffsets({ groupId: GROUP, generationId: 0, memberId }, [entry])).toBe(ILLEGAL_GENERATION);
    expect(coordinator.commitOffsets({ groupId: GROUP, generationId: 1, memberId: 'nobody' }, [entry])).toBe(UNKNOWN_MEMBER_ID);
    expect(coordinator.commitOffsets({ groupId: GROUP, generationId: -1, memberId: '' }, [entry])).toBe(UNKNOWN_MEMBER_ID);
    expect(coordinator.committedOffsets(GROUP)).toEqual([{ topic: 't', partition: 0, offset: 7, metadata: 'm' }]);
  });

  it('answers NOT_COORDINATOR when the offsets cannot be written (regression: the error closed the connection)', () => {
    const store = OffsetStore.open(null, silentLogger);
    vi.spyOn(store, 'commit').mockImplementation(() => {
      throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    });
    const failing = new GroupCoordinator(store, { logger: silentLogger });
    try {
      const entry = { topic: 't', partition: 0, offset: 42, metadata: '' };
      expect(failing.commitOffsets({ groupId: 'simple', generationId: -1, memberId: '' }, [entry])).toBe(NOT_COORDINATOR);
      expect(failing.committedOffset('simple', 't', 0)).toBeUndefined();
    } finally {
      failing.close();
    }
  });

  it('refuses commits between JoinGroup and SyncGroup but accepts them while the group prepares a rebalance', async () => {
    const a = await firstJoin('A');
    const ja = await coordinator.join(joinInput('A', { memberId: a }));
    const entry = { topic: 't', partition: 0, offset: 1, metadata: '' };
    expect(coordinator.commitOffsets({ groupId: GROUP, generationId: ja.generationId, memberId: a }, [entry])).toBe(REBALANCE_IN_PROGRESS);
    await coordinator.sync({ groupId: GROUP, generationId: ja.generationId, memberId: a, assignments: new Map() });

    await firstJoin('B');
    expect(coordinator.describe(GROUP).state).toBe('Stable');
    const b = await firstJoin('B2');
    void coordinator.join(joinInput('B2', { memberId: b }));
    expect(coordinator.describe(GROUP).state).toBe('PreparingRebalance');
    expect(coordinator.commitOffsets({ groupId: GROUP, generationId: ja.generationId, memberId: a }, [entry])).toBe(0);
  });

  it('enforces the session timeout bounds', async () => {
    expect((await coordinator.join(joinInput('A', { sessionTimeoutMs: 1_000 }))).errorCode).toBe(INVALID_SESSION_TIMEOUT);
    expect((await coordinator.join(joinInput('A', { sessionTimeoutMs: 2_000_000 }))).errorCode).toBe(INVALID_SESSION_TIMEOUT);
  });

  it('describes an unknown group as Dead with error 0 and empty strings', () => {
    expect(coordinator.describe('nope')).toEqual({
      errorCode: 0,
      groupId: 'nope',
      state: 'Dead',
      protocolType: '',
      protocolData: '',
      members: [],
    });
  });

  it('describes a Stable group with member metadata and assignment', async () => {
    const { memberId } = await soloStable('A');
    expect(coordinator.describe(GROUP)).toEqual({
      errorCode: 0,
      groupId: GROUP,
      state: 'Stable',
      protocolType: 'consumer',
      protocolData: 'RoundRobinAssigner',
      members: [{ memberId, groupInstanceId: null, clientId: 'A', clientHost: '/127.0.0.1', metadata: meta('A-meta'), assignment: meta('all') }],
    });
  });

  it('answers held requests with NOT_COORDINATOR on close', async () => {
    const a = await firstJoin('A');
    await firstJoin('B');
    const held = track(coordinator.join(joinInput('A', { memberId: a })));
    coordinator.close();
    await flush();
    expect(held.result().errorCode).toBe(NOT_COORDINATOR);
  });
});

describe('GroupCoordinator with an initial rebalance delay', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('waits the delay for more members before the first generation', async () => {
    vi.useFakeTimers();
    const coordinator = new GroupCoordinator(OffsetStore.open(null, silentLogger), { initialRebalanceDelayMs: 3_000 });
    try {
      const joinA = track(coordinator.join(joinInput('A', { requireKnownMemberId: false })));
      await vi.advanceTimersByTimeAsync(2_000);
      const joinB = track(coordinator.join(joinInput('B', { requireKnownMemberId: false })));
      await vi.advanceTimersByTimeAsync(1_000);
      // B arrived during the delay, so it was extended once more.
      expect(joinA.settled()).toBe(false);
      await vi.advanceTimersByTimeAsync(3_000);
      const results: JoinResult[] = [joinA.result(), joinB.result()];
      expect(results.map((r) => r.generationId)).toEqual([1, 1]);
      expect(results[0]?.members).toHaveLength(2);
    } finally {
      coordinator.close();
    }
  });
});
