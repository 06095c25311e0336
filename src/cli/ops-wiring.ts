import type { Logger } from '../logger.js';
import { startCensusPoller } from '../ops/census.js';
import { createHealth, type HealthProbe, type ProbeName } from '../ops/health.js';
import { DEFAULT_OPS_PORT, startOpsServer } from '../ops/http-server.js';
import { createMetrics } from '../ops/metrics.js';
import { createStatusTracker } from '../ops/status.js';
import type { Scorer } from '../pipeline/scorer.js';

export interface ScorerOpsOptions {
  scorer: Scorer;
  /** Default 9464; 0 picks a free port. */
  port?: number;
  /**
   * How often the per-tier census is recomputed from Redis; default 60 s. A census SCANs every
   * customer hash, so on a large deployment it costs real Redis and Node time; the pyramid moves
   * slowly, and the status page says when the census was taken.
   */
  censusIntervalMs?: number;
  logger: Logger;
}

export interface ScorerOps {
  port: number;
  /** Start the census poller; call once the scorer has started (the census reads its state). */
  startCensus(): void;
  close(): Promise<void>;
}

/**
 * Metrics, health, status page and ops HTTP server for one scorer. Listens before the scorer has
 * started: until then the readiness probes answer "starting", so an orchestrator sees a live but
 * not-ready instance rather than a closed port.
 */
export async function startScorerOps(options: ScorerOpsOptions): Promise<ScorerOps> {
  const { scorer, logger } = options;
  const metrics = createMetrics(scorer.instrumentation);
  const status = createStatusTracker(scorer.instrumentation);
  let real: HealthProbe[] | undefined;
  const delegate = (name: ProbeName): HealthProbe => ({
    name,
    async check() {
      try {
        real ??= scorer.probes();
      } catch {
        return { ok: false, detail: 'scorer starting' };
      }
      const probe = real.find((p) => p.name === name);
      return probe === undefined ? { ok: true, detail: 'not used' } : probe.check();
    },
  });
  const health = createHealth({ probes: [delegate('kafka-group'), delegate('redis'), delegate('registry')] });
  const server = await startOpsServer({ port: options.port ?? DEFAULT_OPS_PORT, metrics, health, status, logger });
  let census: { stop(): Promise<void> } | undefined;
  return {
    port: server.port,
    startCensus() {
      census ??= startCensusPoller({ instrumentation: scorer.instrumentation, source: scorer, intervalMs: options.censusIntervalMs ?? 60_000, logger });
    },
    async close() {
      await census?.stop();
      await server.close();
      status.close();
      metrics.close();
    },
  };
}
