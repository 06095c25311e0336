import type { Instrumentation } from '../instrumentation.js';

/** What readiness depends on. A JSON-only deployment simply has no `registry` probe. */
export type ProbeName = 'kafka-group' | 'redis' | 'registry';

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

export interface LivenessBody {
  status: 'alive';
  uptimeSeconds: number;
}

export interface ReadinessBody {
  status: 'ready' | 'not ready';
  checks: Partial<Record<ProbeName, ProbeResult>>;
}

export interface Health {
  /** The process answers; nothing else is checked, so a Redis outage never gets us restarted. */
  live(): LivenessBody;
  /** Runs every probe in parallel, each bounded by the timeout. */
  ready(): Promise<{ ok: boolean; body: ReadinessBody }>;
}

export interface CreateHealthOptions {
  probes: HealthProbe[];
  /** When given, every readiness evaluation is emitted as `health.readiness` (the readiness gauges). */
  instrumentation?: Instrumentation;
  /** Per probe; default 2000 ms, below the usual 5 s kubelet / load-balancer probe timeout. */
  timeoutMs?: number;
}

function errorDetail(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

async function runProbe(probe: HealthProbe, timeoutMs: number): Promise<ProbeResult> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<ProbeResult>((resolve) => {
    timer = setTimeout(() => resolve({ ok: false, detail: `no answer within ${timeoutMs} ms` }), timeoutMs);
  });
  try {
    return await Promise.race([probe.check().catch((err: unknown) => ({ ok: false, detail: errorDetail(err) })), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Liveness and readiness for the ops server. */
export function createHealth(options: CreateHealthOptions): Health {
  const timeoutMs = options.timeoutMs ?? 2000;
  const startedAt = Date.now();
  return {
    live: () => ({ status: 'alive', uptimeSeconds: Math.round((Date.now() - startedAt) / 1000) }),
    async ready() {
      const results = await Promise.all(options.probes.map(async (probe) => [probe.name, await runProbe(probe, timeoutMs)] as const));
      const checks: ReadinessBody['checks'] = {};
      for (const [name, result] of results) checks[name] = result;
      const ok = results.every(([, result]) => result.ok);
      options.instrumentation?.emit('health.readiness', { ok, checks: results.map(([name, result]) => ({ name, ok: result.ok })) });
      return { ok, body: { status: ok ? 'ready' : 'not ready', checks } };
    },
  };
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

/**
 * The consumer is a member of its group: true between `consumer.group_joined` and
 * `consumer.group_left`. Before the first join we are not ready, so a load balancer does not
 * count an instance that has not yet taken any partition.
 */
export function kafkaGroupProbe(instrumentation: Instrumentation): HealthProbe & { close(): void } {
  let state: ProbeResult = { ok: false, detail: 'consumer group not joined yet' };
  const off = [
    instrumentation.on('consumer.group_joined', (e) => {
      state = { ok: true, detail: `member of ${e.groupId}` };
    }),
    instrumentation.on('consumer.group_left', (e) => {
      state = { ok: false, detail: `left ${e.groupId}: ${e.reason}` };
    }),
  ];
  return {
    name: 'kafka-group',
    check: () => Promise.resolve(state),
    close() {
      for (const unsubscribe of off) unsubscribe();
    },
  };
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
