import type { Instrumentation } from '../instrumentation.js';
import { errorDetail, type HealthProbe, type ProbeName, type ProbeResult } from '../pipeline/readiness-probes.js';

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

