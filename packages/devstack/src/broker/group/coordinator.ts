import type { Logger } from '../../logger.js';
import { silentLogger } from '../../logger.js';
import { KafkaErrorCode } from '../protocol/errors.js';
import {
  generateMemberId,
  Group,
  Member,
  type GroupState,
  type JoinResult,
  type MemberProtocol,
  type SyncResult,
} from './group.js';
import type { CommittedOffset, CommittedPartition, OffsetCommitEntry, OffsetStore } from './offset-store.js';

/** Coordinator settings; names and defaults follow Kafka's `group.*` broker configs. */
export interface GroupCoordinatorOptions {
  /**
   * `group.initial.rebalance.delay.ms`: how long the first rebalance of an empty group waits for
   * more members. Default 0, as in Kafka's shipped dev `server.properties`; concurrent starters are
   * still answered together because the barrier also waits for KIP-394 members between their two
   * JoinGroups.
   */
  readonly initialRebalanceDelayMs?: number;
  /** `group.min.session.timeout.ms`, default 6000. */
  readonly minSessionTimeoutMs?: number;
  /** `group.max.session.timeout.ms`, default 1800000. */
  readonly maxSessionTimeoutMs?: number;
  readonly logger?: Logger;
}

/** A JoinGroup request as the coordinator needs it, whatever its wire version. */
export interface JoinGroupInput {
  readonly groupId: string;
  /** `""` on a member's first join. */
  readonly memberId: string;
  /** Echoed back; static membership (KIP-345 fencing) is not implemented, neither client uses it. */
  readonly groupInstanceId: string | null;
  readonly clientId: string;
  readonly clientHost: string;
  readonly sessionTimeoutMs: number;
  readonly rebalanceTimeoutMs: number;
  readonly protocolType: string;
  readonly protocols: readonly MemberProtocol[];
  /** JoinGroup v4+: a first join gets MEMBER_ID_REQUIRED and must come back with that id (KIP-394). */
  readonly requireKnownMemberId: boolean;
}

/** A SyncGroup request as the coordinator needs it. */
export interface SyncGroupInput {
  readonly groupId: string;
  readonly generationId: number;
  readonly memberId: string;
  /** Only the leader sends assignments; followers send none. */
  readonly assignments: ReadonlyMap<string, Buffer>;
}

/** Who is calling: the (group, generation, member) triple Heartbeat and OffsetCommit carry. */
export interface MemberCall {
  readonly groupId: string;
  readonly generationId: number;
  readonly memberId: string;
}

/** LeaveGroup's answer: a top-level error and one error per leaving member, in request order. */
export interface LeaveResult {
  readonly errorCode: number;
  readonly members: readonly { readonly memberId: string; readonly errorCode: number }[];
}

/** One group as DescribeGroups reports it. */
export interface GroupDescription {
  readonly errorCode: number;
  readonly groupId: string;
  readonly state: GroupState;
  readonly protocolType: string;
  /** The chosen protocol, only while Stable (Kafka fills it in no other state). */
  readonly protocolData: string;
  readonly members: readonly {
    readonly memberId: string;
    readonly groupInstanceId: string | null;
    readonly clientId: string;
    readonly clientHost: string;
    readonly metadata: Buffer;
    readonly assignment: Buffer;
  }[];
}

/** One group as ListGroups reports it. */
export interface GroupListing {
  readonly groupId: string;
  readonly protocolType: string;
}

const EMPTY = Buffer.alloc(0);

function joinError(errorCode: number, memberId: string): JoinResult {
  return { errorCode, generationId: -1, protocolName: '', leaderId: '', memberId, members: [] };
}

function unref(timer: NodeJS.Timeout): NodeJS.Timeout {
  // Group timers must never keep a process alive on their own; the listener does that.
  timer.unref?.();
  return timer;
}

/**
 * The group coordinator of the single-node broker: classic consumer-group membership (JoinGroup,
 * SyncGroup, Heartbeat, LeaveGroup) and committed offsets. The behaviour follows Kafka's
 * GroupCoordinator (core/src/main/scala/kafka/coordinator/group) as far as kafkajs 2.2.4 and
 * librdkafka 2.0.2 depend on it (WIRE-FACTS.md §4.3, §4.4, §6):
 *
 * - JoinGroup is a barrier: held until every known member has rejoined (or the largest rebalance
 *   timeout passes, which removes the laggards); then the leader gets the member list, followers `[]`.
 * - SyncGroup from a follower is held until the leader's SyncGroup brings the assignment.
 * - Each member has a session timer, restarted by joins, syncs, heartbeats and commits; when it
 *   fires the member is removed and the group rebalances. Members whose JoinGroup or SyncGroup is
 *   being held are never expired by it (they cannot heartbeat meanwhile), as in Kafka.
 *
 * Everything is single-threaded and synchronous except the held responses, which are promises.
 */
export class GroupCoordinator {
  private readonly groups = new Map<string, Group>();
  private readonly initialRebalanceDelayMs: number;
  private readonly minSessionTimeoutMs: number;
  private readonly maxSessionTimeoutMs: number;
  private readonly logger: Logger;
  private closed = false;

  constructor(
    private readonly offsets: OffsetStore,
    options: GroupCoordinatorOptions = {},
  ) {
    this.initialRebalanceDelayMs = options.initialRebalanceDelayMs ?? 0;
    this.minSessionTimeoutMs = options.minSessionTimeoutMs ?? 6000;
    this.maxSessionTimeoutMs = options.maxSessionTimeoutMs ?? 1_800_000;
    this.logger = options.logger ?? silentLogger;
    // Groups with committed offsets exist after a restart, Empty, as Kafka reloads them.
    for (const groupId of offsets.groupIds()) this.groups.set(groupId, new Group(groupId));
  }

  // ---- JoinGroup ---------------------------------------------------------------------------

  /** JoinGroup; the promise is held while the group is rebalancing. */
  join(input: JoinGroupInput): Promise<JoinResult> | JoinResult {
    if (this.closed) return joinError(KafkaErrorCode.NOT_COORDINATOR, input.memberId);
    if (input.groupId === '') return joinError(KafkaErrorCode.INVALID_GROUP_ID, input.memberId);
    if (input.sessionTimeoutMs < this.minSessionTimeoutMs || input.sessionTimeoutMs > this.maxSessionTimeoutMs) {
      return joinError(KafkaErrorCode.INVALID_SESSION_TIMEOUT, input.memberId);
    }
    const isNewMember = input.memberId === '';
    let group = this.groups.get(input.groupId);
    if (group === undefined) {
      // Only a first join creates a group; a member id for a group we do not know is stale.
      if (!isNewMember) return joinError(KafkaErrorCode.UNKNOWN_MEMBER_ID, input.memberId);
      group = new Group(input.groupId);
      this.groups.set(input.groupId, group);
    }
    if (!group.supportsProtocols(input.protocolType, input.protocols)) {
      return joinError(KafkaErrorCode.INCONSISTENT_GROUP_PROTOCOL, input.memberId);
    }

    if (isNewMember) {
      const memberId = generateMemberId(input.clientId);
      if (input.requireKnownMemberId) {
        this.addPendingMember(group, memberId, input.sessionTimeoutMs);
        return joinError(KafkaErrorCode.MEMBER_ID_REQUIRED, memberId);
      }
      return this.addMemberAndRebalance(group, memberId, input);
    }

    const pendingTimer = group.pendingMembers.get(input.memberId);
    if (pendingTimer !== undefined) {
      clearTimeout(pendingTimer);
      group.pendingMembers.delete(input.memberId);
      return this.addMemberAndRebalance(group, input.memberId, input);
    }

    const member = group.members.get(input.memberId);
    if (member === undefined) return joinError(KafkaErrorCode.UNKNOWN_MEMBER_ID, input.memberId);

    switch (group.state) {
      case 'PreparingRebalance':
        return this.updateMemberAndRebalance(group, member, input);
      case 'CompletingRebalance':
        // The member probably lost our JoinGroup response; answer it again unless it changed.
        if (member.sameProtocols(input.protocols)) return group.joinResultFor(member);
        return this.updateMemberAndRebalance(group, member, input);
      case 'Stable':
        // A leader's rejoin means "metadata changed, reassign" (e.g. new partitions), so rebalance.
        if (member.memberId !== group.leaderId && member.sameProtocols(input.protocols)) {
          return group.joinResultFor(member);
        }
        return this.updateMemberAndRebalance(group, member, input);
      case 'Empty':
      case 'Dead':
        return joinError(KafkaErrorCode.UNKNOWN_MEMBER_ID, input.memberId);
    }
  }

  private addPendingMember(group: Group, memberId: string, sessionTimeoutMs: number): void {
    const timer = setTimeout(() => {
      // The member never came back with its id: forget it so the join barrier stops waiting.
      if (group.pendingMembers.delete(memberId)) {
        this.logger.info({ groupId: group.groupId, memberId }, 'pending group member expired');
        this.tryCompleteJoin(group);
      }
    }, sessionTimeoutMs);
    group.pendingMembers.set(memberId, unref(timer));
  }

  private addMemberAndRebalance(group: Group, memberId: string, input: JoinGroupInput): Promise<JoinResult> {
    const member = new Member(memberId, input.groupInstanceId, input);
    if (group.members.size === 0) group.protocolType = input.protocolType;
    group.add(member);
    if (group.inInitialDelay) group.newMemberDuringInitialDelay = true;
    const result = this.awaitJoin(member);
    this.logger.info({ groupId: group.groupId, memberId, clientId: input.clientId }, 'member joined group');
    this.maybePrepareRebalance(group, `member ${memberId} joined`);
    this.tryCompleteJoin(group);
    return result;
  }

  private updateMemberAndRebalance(group: Group, member: Member, input: JoinGroupInput): Promise<JoinResult> {
    member.protocols = input.protocols;
    member.sessionTimeoutMs = input.sessionTimeoutMs;
    member.rebalanceTimeoutMs = input.rebalanceTimeoutMs;
    member.clientId = input.clientId;
    member.clientHost = input.clientHost;
    const result = this.awaitJoin(member);
    this.maybePrepareRebalance(group, `member ${member.memberId} rejoined`);
    this.tryCompleteJoin(group);
    return result;
  }

  private awaitJoin(member: Member): Promise<JoinResult> {
    // The barrier, not the session, bounds a held join: stop the session clock meanwhile.
    this.stopSessionTimer(member);
    return new Promise<JoinResult>((resolve) => {
      // A second join for the same member (a client retry on a new connection) is answered too.
      const previous = member.joinWaiter;
      member.joinWaiter = previous === null ? resolve : (r) => (previous(r), resolve(r));
    });
  }

  private maybePrepareRebalance(group: Group, reason: string): void {
    if (group.state === 'Empty' || group.state === 'Stable' || group.state === 'CompletingRebalance') {
      this.prepareRebalance(group, reason);
    }
  }

  private prepareRebalance(group: Group, reason: string): void {
    if (group.state === 'CompletingRebalance') {
      // Members waiting for an assignment of the generation being abandoned must rejoin; their
      // session restarts now, since they could not heartbeat while held.
      for (const m of group.members.values()) {
        m.assignment = EMPTY;
        if (this.resolveSync(m, { errorCode: KafkaErrorCode.REBALANCE_IN_PROGRESS, assignment: EMPTY })) {
          this.startSessionTimer(group, m);
        }
      }
    }
    const wasEmpty = group.state === 'Empty';
    group.state = 'PreparingRebalance';
    this.clearJoinTimer(group);
    this.logger.info({ groupId: group.groupId, generationId: group.generationId, reason }, 'preparing to rebalance group');
    if (wasEmpty && this.initialRebalanceDelayMs > 0) {
      group.inInitialDelay = true;
      group.newMemberDuringInitialDelay = false;
      const delay = Math.min(this.initialRebalanceDelayMs, group.rebalanceTimeoutMs());
      this.scheduleInitialDelay(group, delay, Math.max(group.rebalanceTimeoutMs() - delay, 0));
    } else {
      group.joinTimer = unref(setTimeout(() => this.completeJoin(group), group.rebalanceTimeoutMs()));
    }
  }

  /** Kafka's InitialDelayedJoin: extend while new members keep arriving, up to the rebalance timeout. */
  private scheduleInitialDelay(group: Group, delay: number, remaining: number): void {
    group.joinTimer = unref(
      setTimeout(() => {
        if (group.newMemberDuringInitialDelay && remaining > 0) {
          group.newMemberDuringInitialDelay = false;
          const next = Math.min(this.initialRebalanceDelayMs, remaining);
          this.scheduleInitialDelay(group, next, Math.max(remaining - next, 0));
        } else {
          this.completeJoin(group);
        }
      }, delay),
    );
  }

  private tryCompleteJoin(group: Group): void {
    if (group.state === 'PreparingRebalance' && !group.inInitialDelay && group.allMembersJoined()) {
      this.completeJoin(group);
    }
  }

  /** Ends the join phase: drop members that did not rejoin, start the next generation, answer the joins. */
  private completeJoin(group: Group): void {
    if (group.state !== 'PreparingRebalance') return;
    this.clearJoinTimer(group);
    group.inInitialDelay = false;
    for (const m of [...group.members.values()]) {
      if (!m.awaitingJoin) {
        this.logger.info({ groupId: group.groupId, memberId: m.memberId }, 'member did not rejoin in time; removed');
        this.stopSessionTimer(m);
        group.remove(m.memberId);
      }
    }
    group.generationId++;
    if (group.members.size === 0) {
      group.protocolName = null;
      group.state = 'Empty';
      this.logger.info({ groupId: group.groupId, generationId: group.generationId }, 'group is empty');
      return;
    }
    group.protocolName = group.selectProtocol();
    group.state = 'CompletingRebalance';
    this.logger.info(
      { groupId: group.groupId, generationId: group.generationId, members: group.members.size, protocol: group.protocolName },
      'group rebalanced; awaiting sync',
    );
    for (const m of group.members.values()) {
      const waiter = m.joinWaiter;
      m.joinWaiter = null;
      waiter?.(group.joinResultFor(m));
      this.startSessionTimer(group, m);
    }
  }

  // ---- SyncGroup ---------------------------------------------------------------------------

  /** SyncGroup; a follower's promise is held until the leader's assignment arrives. */
  sync(input: SyncGroupInput): Promise<SyncResult> | SyncResult {
    const group = this.groups.get(input.groupId);
    const error = this.validateMember(group, input);
    if (error !== KafkaErrorCode.NONE) return { errorCode: error, assignment: EMPTY };
    const g = group as Group;
    const member = g.members.get(input.memberId) as Member;
    switch (g.state) {
      case 'Empty':
        return { errorCode: KafkaErrorCode.UNKNOWN_MEMBER_ID, assignment: EMPTY };
      case 'PreparingRebalance':
        return { errorCode: KafkaErrorCode.REBALANCE_IN_PROGRESS, assignment: EMPTY };
      case 'Stable':
        this.startSessionTimer(g, member);
        return { errorCode: KafkaErrorCode.NONE, assignment: member.assignment };
      case 'Dead':
        return { errorCode: KafkaErrorCode.COORDINATOR_NOT_AVAILABLE, assignment: EMPTY };
      case 'CompletingRebalance': {
        const result = new Promise<SyncResult>((resolve) => {
          const previous = member.syncWaiter;
          member.syncWaiter = previous === null ? resolve : (r) => (previous(r), resolve(r));
        });
        if (member.memberId === g.leaderId) this.applyAssignment(g, input.assignments);
        return result;
      }
    }
  }

  private applyAssignment(group: Group, assignments: ReadonlyMap<string, Buffer>): void {
    group.state = 'Stable';
    this.logger.info({ groupId: group.groupId, generationId: group.generationId }, 'group stable');
    for (const m of group.members.values()) {
      // Members the leader left out get an empty assignment, as Kafka does.
      m.assignment = assignments.get(m.memberId) ?? EMPTY;
      if (this.resolveSync(m, { errorCode: KafkaErrorCode.NONE, assignment: m.assignment })) {
        this.startSessionTimer(group, m);
      }
    }
  }

  private resolveSync(member: Member, result: SyncResult): boolean {
    const waiter = member.syncWaiter;
    if (waiter === null) return false;
    member.syncWaiter = null;
    waiter(result);
    return true;
  }

  // ---- Heartbeat / LeaveGroup --------------------------------------------------------------

  /** Heartbeat: restarts the member's session timer and tells it whether a rebalance is under way. */
  heartbeat(input: MemberCall): number {
    const group = this.groups.get(input.groupId);
    const error = this.validateMember(group, input);
    if (error !== KafkaErrorCode.NONE) return error;
    const g = group as Group;
    const member = g.members.get(input.memberId) as Member;
    switch (g.state) {
      case 'Empty':
        return KafkaErrorCode.UNKNOWN_MEMBER_ID;
      case 'Dead':
        return KafkaErrorCode.COORDINATOR_NOT_AVAILABLE;
      case 'PreparingRebalance':
        this.startSessionTimer(g, member);
        return KafkaErrorCode.REBALANCE_IN_PROGRESS;
      case 'CompletingRebalance':
      case 'Stable':
        this.startSessionTimer(g, member);
        return KafkaErrorCode.NONE;
    }
  }

  /** LeaveGroup for one (v0–v2) or several (v3) members; each gets its own error. */
  leave(groupId: string, memberIds: readonly string[]): LeaveResult {
    const group = this.groups.get(groupId);
    if (this.closed) return { errorCode: KafkaErrorCode.NOT_COORDINATOR, members: [] };
    const members = memberIds.map((memberId) => {
      if (group === undefined) return { memberId, errorCode: KafkaErrorCode.UNKNOWN_MEMBER_ID };
      const pendingTimer = group.pendingMembers.get(memberId);
      if (pendingTimer !== undefined) {
        clearTimeout(pendingTimer);
        group.pendingMembers.delete(memberId);
        this.tryCompleteJoin(group);
        return { memberId, errorCode: KafkaErrorCode.NONE };
      }
      const member = group.members.get(memberId);
      if (member === undefined) return { memberId, errorCode: KafkaErrorCode.UNKNOWN_MEMBER_ID };
      this.logger.info({ groupId, memberId }, 'member left group');
      this.removeMember(group, member, 'member left');
      return { memberId, errorCode: KafkaErrorCode.NONE };
    });
    return { errorCode: KafkaErrorCode.NONE, members };
  }

  private removeMember(group: Group, member: Member, reason: string): void {
    // A held request of a removed member is answered now, so the client rejoins from scratch.
    member.joinWaiter?.(joinError(KafkaErrorCode.UNKNOWN_MEMBER_ID, ''));
    member.joinWaiter = null;
    this.resolveSync(member, { errorCode: KafkaErrorCode.UNKNOWN_MEMBER_ID, assignment: EMPTY });
    this.stopSessionTimer(member);
    group.remove(member.memberId);
    if (group.state === 'Stable' || group.state === 'CompletingRebalance') this.prepareRebalance(group, reason);
    else this.tryCompleteJoin(group);
  }

  private startSessionTimer(group: Group, member: Member): void {
    this.stopSessionTimer(member);
    member.sessionTimer = unref(setTimeout(() => this.onSessionExpired(group, member), member.sessionTimeoutMs));
  }

  private stopSessionTimer(member: Member): void {
    if (member.sessionTimer !== null) clearTimeout(member.sessionTimer);
    member.sessionTimer = null;
  }

  private onSessionExpired(group: Group, member: Member): void {
    member.sessionTimer = null;
    if (group.members.get(member.memberId) !== member) return;
    if (member.awaitingJoin) return;
    if (member.syncWaiter !== null) {
      // Waiting on the leader is not the member's fault; the leader's own session covers that.
      this.startSessionTimer(group, member);
      return;
    }
    this.logger.info({ groupId: group.groupId, memberId: member.memberId }, 'member session expired; removing it');
    this.removeMember(group, member, `session of ${member.memberId} expired`);
  }

  /** Errors shared by SyncGroup, Heartbeat and OffsetCommit for a (member, generation) pair. */
  private validateMember(group: Group | undefined, call: MemberCall): number {
    if (this.closed) return KafkaErrorCode.NOT_COORDINATOR;
    if (group === undefined) return KafkaErrorCode.UNKNOWN_MEMBER_ID;
    if (group.state === 'Dead') return KafkaErrorCode.COORDINATOR_NOT_AVAILABLE;
    if (!group.members.has(call.memberId)) return KafkaErrorCode.UNKNOWN_MEMBER_ID;
    if (call.generationId !== group.generationId) return KafkaErrorCode.ILLEGAL_GENERATION;
    return KafkaErrorCode.NONE;
  }

  // ---- Offsets -----------------------------------------------------------------------------

  /**
   * OffsetCommit for the partitions that passed the wire-level checks. Returns the one error that
   * applies to all of them (Kafka validates membership per request, not per partition). A commit
   * with generation −1 and no member id is a "simple" commit, allowed while the group is Empty.
   */
  commitOffsets(call: MemberCall, entries: readonly OffsetCommitEntry[]): number {
    if (this.closed) return KafkaErrorCode.NOT_COORDINATOR;
    let group = this.groups.get(call.groupId);
    if (group === undefined) {
      if (call.generationId >= 0) return KafkaErrorCode.ILLEGAL_GENERATION;
      group = new Group(call.groupId);
      this.groups.set(call.groupId, group);
    }
    const error = this.validateCommit(group, call);
    if (error !== KafkaErrorCode.NONE) return error;
    if (group.state === 'CompletingRebalance') return KafkaErrorCode.REBALANCE_IN_PROGRESS;
    const member = group.members.get(call.memberId);
    // Committing proves the member is alive; during PreparingRebalance it learns of the
    // rebalance from its next heartbeat, so commits are still accepted then (as in Kafka).
    if (member !== undefined) this.startSessionTimer(group, member);
    try {
      this.offsets.commit(call.groupId, entries);
    } catch (err) {
      // Kafka's GroupMetadataManager answers a storage error of the offsets log with
      // NOT_COORDINATOR: clients look the coordinator up again and retry the commit, instead of
      // losing the connection (and every request pipelined on it) to a thrown handler.
      this.logger.error({ err, groupId: call.groupId }, 'offset commit could not be written');
      return KafkaErrorCode.NOT_COORDINATOR;
    }
    return KafkaErrorCode.NONE;
  }

  /**
   * TxnOffsetCommit for the partitions that passed the wire-level checks, once the transaction
   * coordinator vouched for the producer: the offsets are kept pending for `producerId` until its
   * transaction ends ({@link endTransaction}). No membership check, as in Kafka before KIP-447
   * (TxnOffsetCommit v3): the producer is rarely a member of the group whose offsets it commits.
   */
  commitTxnOffsets(groupId: string, producerId: number, entries: readonly OffsetCommitEntry[]): number {
    if (this.closed) return KafkaErrorCode.NOT_COORDINATOR;
    if (!this.groups.has(groupId)) this.groups.set(groupId, new Group(groupId));
    try {
      this.offsets.commitPending(producerId, groupId, entries);
    } catch (err) {
      // As for OffsetCommit: NOT_COORDINATOR makes the client look up and retry.
      this.logger.error({ err, groupId, producerId }, 'transactional offset commit could not be written');
      return KafkaErrorCode.NOT_COORDINATOR;
    }
    return KafkaErrorCode.NONE;
  }

  /** Commits or drops `producerId`'s pending offsets of `groupIds`; throws when that cannot be written. */
  endTransaction(producerId: number, groupIds: readonly string[], commit: boolean): void {
    this.offsets.endTransaction(producerId, groupIds, commit);
  }

  /** Kafka's validateOffsetCommit, minus static membership and transactions. */
  private validateCommit(group: Group, call: MemberCall): number {
    if (group.state === 'Dead') return KafkaErrorCode.COORDINATOR_NOT_AVAILABLE;
    // Admin tools and manually assigned consumers commit with generation -1 into an empty group.
    if (call.generationId < 0 && group.state === 'Empty') return KafkaErrorCode.NONE;
    if (call.generationId >= 0 || call.memberId !== '') return this.validateMember(group, call);
    // A non-empty group only takes commits from its members.
    return KafkaErrorCode.UNKNOWN_MEMBER_ID;
  }

  committedOffset(groupId: string, topic: string, partition: number): CommittedOffset | undefined {
    return this.offsets.get(groupId, topic, partition);
  }

  committedOffsets(groupId: string): CommittedPartition[] {
    return this.offsets.list(groupId);
  }

  // ---- DescribeGroups / ListGroups ---------------------------------------------------------

  /** DescribeGroups for one group; an unknown group is described as Dead with error 0 (WIRE-FACTS.md §4.1). */
  describe(groupId: string): GroupDescription {
    const group = this.groups.get(groupId);
    if (this.closed || group === undefined) {
      return { errorCode: KafkaErrorCode.NONE, groupId, state: 'Dead', protocolType: '', protocolData: '', members: [] };
    }
    const stable = group.state === 'Stable';
    const protocol = group.protocolName ?? '';
    return {
      errorCode: KafkaErrorCode.NONE,
      groupId,
      state: group.state,
      protocolType: group.protocolType ?? '',
      protocolData: stable ? protocol : '',
      members: [...group.members.values()].map((m) => ({
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        // Kafka fills metadata and assignment only for a Stable group.
        metadata: stable ? m.metadataFor(protocol) : EMPTY,
        assignment: stable ? m.assignment : EMPTY,
      })),
    };
  }

  list(): GroupListing[] {
    if (this.closed) return [];
    return [...this.groups.values()].map((g) => ({ groupId: g.groupId, protocolType: g.protocolType ?? '' }));
  }

  /**
   * Stops every timer and answers every held request with NOT_COORDINATOR, which makes clients
   * look for the coordinator again (Kafka does the same when it unloads a group), then closes the
   * offset store.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const group of this.groups.values()) {
      this.clearJoinTimer(group);
      for (const timer of group.pendingMembers.values()) clearTimeout(timer);
      group.pendingMembers.clear();
      for (const m of group.members.values()) {
        this.stopSessionTimer(m);
        m.joinWaiter?.(joinError(KafkaErrorCode.NOT_COORDINATOR, m.memberId));
        m.joinWaiter = null;
        this.resolveSync(m, { errorCode: KafkaErrorCode.NOT_COORDINATOR, assignment: EMPTY });
      }
      group.state = 'Dead';
    }
    this.offsets.close();
  }

  private clearJoinTimer(group: Group): void {
    if (group.joinTimer !== null) clearTimeout(group.joinTimer);
    group.joinTimer = null;
  }
}
