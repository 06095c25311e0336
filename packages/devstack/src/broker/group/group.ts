import { randomUUID } from 'node:crypto';

/**
 * Group states of the classic group protocol, named as Kafka names them on the wire (DescribeGroups
 * `group_state`, ListGroups). Transitions follow Kafka's GroupMetadata:
 * Empty → PreparingRebalance → CompletingRebalance → Stable → PreparingRebalance …; a group only
 * becomes Dead when the coordinator shuts down.
 */
export type GroupState = 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable' | 'Dead';

/** One protocol a member offers in JoinGroup, in the member's order of preference. */
export interface MemberProtocol {
  readonly name: string;
  readonly metadata: Buffer;
}

/** What JoinGroup answers; held joins resolve with this once the rebalance completes. */
export interface JoinResult {
  readonly errorCode: number;
  readonly generationId: number;
  /** The chosen protocol, `""` on errors (the field is non-nullable below JoinGroup v7). */
  readonly protocolName: string;
  readonly leaderId: string;
  readonly memberId: string;
  /** Filled for the leader only; followers get `[]`. */
  readonly members: readonly JoinedMember[];
}

/** One entry of the member list the leader receives. */
export interface JoinedMember {
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  readonly metadata: Buffer;
}

/** What SyncGroup answers; a follower's sync resolves with this once the leader's assignment arrives. */
export interface SyncResult {
  readonly errorCode: number;
  readonly assignment: Buffer;
}

const EMPTY = Buffer.alloc(0);

/** One member of a group and what the coordinator is holding for it. */
export class Member {
  protocols: readonly MemberProtocol[];
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  clientId: string;
  clientHost: string;
  assignment: Buffer = EMPTY;
  /** Set while the member's JoinGroup is held for the rebalance barrier. */
  joinWaiter: ((result: JoinResult) => void) | null = null;
  /** Set while the member's SyncGroup waits for the leader's assignment. */
  syncWaiter: ((result: SyncResult) => void) | null = null;
  sessionTimer: NodeJS.Timeout | null = null;

  constructor(
    readonly memberId: string,
    readonly groupInstanceId: string | null,
    init: {
      clientId: string;
      clientHost: string;
      sessionTimeoutMs: number;
      rebalanceTimeoutMs: number;
      protocols: readonly MemberProtocol[];
    },
  ) {
    this.clientId = init.clientId;
    this.clientHost = init.clientHost;
    this.sessionTimeoutMs = init.sessionTimeoutMs;
    this.rebalanceTimeoutMs = init.rebalanceTimeoutMs;
    this.protocols = init.protocols;
  }

  get awaitingJoin(): boolean {
    return this.joinWaiter !== null;
  }

  /** Metadata this member sent for `protocol`; empty when it does not offer it. */
  metadataFor(protocol: string): Buffer {
    return this.protocols.find((p) => p.name === protocol)?.metadata ?? EMPTY;
  }

  /** True when a rejoin carries exactly the protocols (names, order and bytes) we already have. */
  sameProtocols(protocols: readonly MemberProtocol[]): boolean {
    if (protocols.length !== this.protocols.length) return false;
    return protocols.every((p, i) => {
      const mine = this.protocols[i];
      return mine !== undefined && mine.name === p.name && mine.metadata.equals(p.metadata);
    });
  }
}

/**
 * A member id as Kafka generates it: `<client.id>-<uuid>` (WIRE-FACTS.md §0, headline fact 5;
 * GroupMetadata.generateMemberId).
 */
export function generateMemberId(clientId: string): string {
  return `${clientId}-${randomUUID()}`;
}

/**
 * Membership bookkeeping of one consumer group: members in join order, the leader, the generation
 * and the chosen protocol. It decides nothing about timing; {@link GroupCoordinator} drives it.
 */
export class Group {
  state: GroupState = 'Empty';
  generationId = 0;
  protocolType: string | null = null;
  protocolName: string | null = null;
  leaderId: string | null = null;
  /** Member ids handed out with MEMBER_ID_REQUIRED whose second JoinGroup has not arrived yet (KIP-394). */
  readonly pendingMembers = new Map<string, NodeJS.Timeout>();
  /** Insertion order = join order, so the first entry is the longest-standing member. */
  readonly members = new Map<string, Member>();
  /** Timer that ends the join phase of a rebalance (initial delay or rebalance timeout). */
  joinTimer: NodeJS.Timeout | null = null;
  /** While true the join phase may not complete early (Kafka's group.initial.rebalance.delay.ms). */
  inInitialDelay = false;
  /** A member joined during the initial delay, so the delay is extended once more. */
  newMemberDuringInitialDelay = false;

  constructor(readonly groupId: string) {}

  add(member: Member): void {
    this.members.set(member.memberId, member);
    this.leaderId ??= member.memberId;
  }

  remove(memberId: string): void {
    this.members.delete(memberId);
    if (this.leaderId === memberId) {
      // The next leader is the longest-standing remaining member, as Kafka 2.4 did (WIRE-FACTS.md §4.3).
      const next = this.members.keys().next();
      this.leaderId = next.done ? null : next.value;
    }
  }

  /** Largest rebalance timeout of any member: how long the join barrier may wait (Kafka does the same). */
  rebalanceTimeoutMs(): number {
    let max = 0;
    for (const m of this.members.values()) max = Math.max(max, m.rebalanceTimeoutMs);
    return max;
  }

  /** Every known member has rejoined and no KIP-394 member is still due to send its second join. */
  allMembersJoined(): boolean {
    if (this.pendingMembers.size > 0) return false;
    for (const m of this.members.values()) if (!m.awaitingJoin) return false;
    return true;
  }

  /**
   * Whether a member offering `protocols` of `protocolType` could join: the type must match the
   * group's and at least one protocol must be one every current member supports.
   */
  supportsProtocols(protocolType: string, protocols: readonly MemberProtocol[]): boolean {
    if (protocols.length === 0 || protocolType === '') return false;
    if (this.members.size === 0) return true;
    if (this.protocolType !== protocolType) return false;
    const common = this.commonProtocols();
    return protocols.some((p) => common.has(p.name));
  }

  private commonProtocols(): Set<string> {
    const [first, ...rest] = [...this.members.values()];
    const common = new Set(first?.protocols.map((p) => p.name));
    for (const m of rest) {
      for (const name of common) if (!m.protocols.some((p) => p.name === name)) common.delete(name);
    }
    return common;
  }

  /**
   * Kafka's GroupMetadata.selectProtocol: among the protocols every member supports, each member
   * votes for the one it prefers most; most votes wins. Ties go to the protocol the leader prefers,
   * so the choice is deterministic (kcat offers range before roundrobin and gets range).
   */
  selectProtocol(): string {
    const common = this.commonProtocols();
    const votes = new Map<string, number>();
    for (const m of this.members.values()) {
      const choice = m.protocols.find((p) => common.has(p.name));
      if (choice !== undefined) votes.set(choice.name, (votes.get(choice.name) ?? 0) + 1);
    }
    const leader = this.leaderId === null ? undefined : this.members.get(this.leaderId);
    const preference = (leader ?? this.members.values().next().value)?.protocols ?? [];
    let best: string | null = null;
    let bestVotes = 0;
    for (const p of preference) {
      const v = votes.get(p.name) ?? 0;
      if (v > bestVotes) {
        best = p.name;
        bestVotes = v;
      }
    }
    if (best === null) throw new Error(`group ${this.groupId} has no protocol common to all members`);
    return best;
  }

  /** The member list the leader receives in its JoinGroup response. */
  joinedMembers(): JoinedMember[] {
    const protocol = this.protocolName ?? '';
    return [...this.members.values()].map((m) => ({
      memberId: m.memberId,
      groupInstanceId: m.groupInstanceId,
      metadata: m.metadataFor(protocol),
    }));
  }

  /** The JoinGroup answer `member` gets for the current generation. */
  joinResultFor(member: Member): JoinResult {
    return {
      errorCode: 0,
      generationId: this.generationId,
      protocolName: this.protocolName ?? '',
      leaderId: this.leaderId ?? '',
      memberId: member.memberId,
      members: member.memberId === this.leaderId ? this.joinedMembers() : [],
    };
  }
}
