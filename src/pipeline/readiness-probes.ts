import type { Instrumentation } from '../instrumentation.js';

/**
 * The scorer's readiness checks: each looks at one dependency (the consumer group, Redis, the
 * schema registry, the partitions the scorer must apply). src/ops aggregates them into /readyz.
 */

/** The message of a failed check, in words an operator can act on. */
export function errorDetail(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** What readiness depends on. A JSON-only deployment simply has no `registry` probe. */
/** `partitions`: every assigned partition can apply (none refused or stopped). */
export type ProbeName = 'kafka-group' | 'redis' | 'registry' | 'partitions';

export interface ProbeResult {
  ok: boolean;
  /** Why, in words an operator can act on (e.g. "connect ECONNREFUSED 127.0.0.1:6380"). */
  detail?: string;
}

/** One dependency check. `check` may reject or hang; `createHealth` turns both into `ok: false`. */
export interface HealthProbe {
  name: ProbeName;
  check(): Promise<ProbeResult>;
}

/** The part of an ioredis client (single node or cluster) the probe needs. */
export interface PingableRedis {
  /** ioredis connection state: 'ready' once connected, 'reconnecting' / 'end' when not. */
  readonly status: string;
  ping(): Promise<string>;
  on(event: 'error', listener: (err: Error) => void): unknown;
}

/**
 * Redis answers PING. While the client is not connected we answer at once with its last
 * connection error: a PING would only wait in ioredis's offline queue until the timeout, and
 * "connect ECONNREFUSED" tells the operator more than "no answer".
 */
export function redisProbe(redis: PingableRedis): HealthProbe {
  let lastError: string | undefined;
  redis.on('error', (err) => {
    lastError = err.message;
  });
  return {
    name: 'redis',
    async check() {
      if (redis.status !== 'ready') return { ok: false, detail: `redis ${redis.status}${lastError ? `: ${lastError}` : ''}` };
      const reply = await redis.ping();
      return reply === 'PONG' ? { ok: true } : { ok: false, detail: `unexpected PING reply ${reply}` };
    },
  };
}

/** A consumer group as its coordinator describes it; `PyramidAdmin.describeGroup` returns one. */
export interface GroupView {
  /** Kafka's group state: Stable, PreparingRebalance, CompletingRebalance, Empty or Dead. */
  state: string;
  members: ReadonlyArray<{ memberId: string; partitions: ReadonlyArray<{ topic: string; partition: number }> }>;
}

export interface KafkaGroupProbeOptions {
  /** The subscribed topic and its partition count: what the group must keep owned. */
  topic: string;
  partitionCount: number;
  /** Asks the group coordinator; called only while this member holds no partition. */
  describeGroup(): Promise<GroupView>;
}

/**
 * Whether a member that holds no partition is legitimately idle: only when the coordinator lists
 * it in a Stable group in which every partition of `topic` is held by another member (a group with
 * more members than partitions leaves some with none). Anything else (a rebalance under way, the
 * coordinator not knowing this member, a partition nobody holds, an assignment for this member it
 * has not taken up) means the partitions it should work on are not being worked on.
 */
export function idleMemberVerdict(view: GroupView, memberId: string, topic: string, partitionCount: number): ProbeResult {
  if (view.state !== 'Stable') return { ok: false, detail: `holds no partitions; the group is ${view.state}` };
  const me = view.members.find((m) => m.memberId === memberId);
  if (me === undefined) return { ok: false, detail: `holds no partitions, and the group coordinator does not list member ${memberId}` };
  if (me.partitions.some((tp) => tp.topic === topic)) return { ok: false, detail: 'the coordinator assigned partitions that this member has not taken up yet' };
  const held = new Set(view.members.flatMap((m) => m.partitions.filter((tp) => tp.topic === topic).map((tp) => tp.partition)));
  const unowned = Array.from({ length: partitionCount }, (_, p) => p).filter((p) => !held.has(p));
  if (unowned.length > 0) return { ok: false, detail: `holds no partitions while partitions ${unowned.join(', ')} of ${topic} have no owner` };
  return { ok: true, detail: `idle member: all ${partitionCount} partitions of ${topic} are held by the other ${view.members.length - 1} members` };
}

/**
 * The consumer is a working member of its group, from the consumer's own events: ready once it
 * joined and holds partitions (or is legitimately idle, see {@link idleMemberVerdict}); not ready
 * before the first join, during a rebalance, after a crash (kafkajs restarting the consumer or
 * not) and once stopped or disconnected. Ready again on its own at the next join.
 */
export function kafkaGroupProbe(instrumentation: Instrumentation, options: KafkaGroupProbeOptions): HealthProbe & { close(): void } {
  type State = { kind: 'down'; result: ProbeResult } | { kind: 'joined'; groupId: string; memberId: string; partitions: number };
  let state: State = { kind: 'down', result: { ok: false, detail: 'consumer group not joined yet' } };
  const down = (detail: string): void => {
    state = { kind: 'down', result: { ok: false, detail } };
  };
  const off = [
    instrumentation.on('consumer.group_joined', (e) => {
      state = { kind: 'joined', groupId: e.groupId, memberId: e.memberId, partitions: e.partitions };
    }),
    instrumentation.on('consumer.group_rebalancing', (e) => down(`${e.groupId} is rebalancing`)),
    instrumentation.on('consumer.group_left', (e) => down(`left ${e.groupId}: ${e.reason}`)),
    instrumentation.on('consumer.crash', (e) =>
      down(e.restarting ? `consumer crashed, kafkajs is restarting it: ${e.error}` : `consumer crashed and stopped: ${e.error}`),
    ),
  ];
  const probe = {
    name: 'kafka-group' as const,
    async check(): Promise<ProbeResult> {
      const current = state;
      if (current.kind === 'down') return current.result;
      if (current.partitions > 0) return { ok: true, detail: `member of ${current.groupId}, ${current.partitions} partitions` };
      const verdict = idleMemberVerdict(await options.describeGroup(), current.memberId, options.topic, options.partitionCount);
      // A crash or rebalance while the coordinator answered wins over its answer.
      if (state !== current) return probe.check();
      return { ok: verdict.ok, detail: `member of ${current.groupId}: ${verdict.detail}` };
    },
    close() {
      for (const unsubscribe of off) unsubscribe();
    },
  };
  return probe;
}

export interface RegistryProbeOptions {
  /** Schema Registry base URL, e.g. http://registry:8081. */
  url: string;
  /** Basic auth, as the registry client uses. */
  auth?: { username: string; password: string };
}

/**
 * The Schema Registry answers `GET /subjects` (part of every Confluent-compatible registry).
 * The detail never contains the URL's credentials.
 */
export function registryProbe(options: RegistryProbeOptions): HealthProbe {
  const url = new URL('subjects', options.url.endsWith('/') ? options.url : `${options.url}/`);
  // fetch refuses URLs with credentials; move them into the header.
  const auth = options.auth ?? (url.username ? { username: decodeURIComponent(url.username), password: decodeURIComponent(url.password) } : undefined);
  url.username = '';
  url.password = '';
  const headers: Record<string, string> = { accept: 'application/vnd.schemaregistry.v1+json, application/json' };
  if (auth) headers.authorization = `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
  return {
    name: 'registry',
    async check() {
      try {
        const res = await fetch(url, { headers, signal: AbortSignal.timeout(5000) });
        await res.body?.cancel();
        return res.ok ? { ok: true } : { ok: false, detail: `GET /subjects answered ${res.status}` };
      } catch (err) {
        // undici hides the socket error in `cause`; that is the useful part (ECONNREFUSED ...).
        const cause = err instanceof Error && err.cause instanceof Error ? err.cause.message : errorDetail(err);
        return { ok: false, detail: cause };
      }
    },
  };
}
