import type { Logger } from '../logger.js';
import type { HealthProbe, ProbeName } from '../ops/health.js';
import { DEFAULT_OPS_PORT, startOps } from '../ops/index.js';
import type { PyramidCensus } from '../pipeline/census.js';
import type { Scorer } from '../pipeline/scorer.js';

export interface ScorerOpsOptions {
  scorer: Scorer;
  /** Default 9464; 0 picks a free port. */
  port?: number;
  /**
   * How often the per-tier census is read from Redis; default 10 s. It reads the per-tier
   * counters of each partition (a few fields each); only a partition written before counters
   * existed is counted customer by customer. The status page says when the census was taken.
   */
  censusIntervalMs?: number;
  logger: Logger;
}

export interface ScorerOps {
  port: number;
  /** Tell the ops surface the scorer has started: readiness and the census use it from now on. */
  scorerStarted(): void;
  close(): Promise<void>;
}

/**
 * src/ops's `startOps` for one scorer, listening before the scorer has started: until then the
 * readiness probes answer "scorer starting" and the census waits, so an orchestrator sees a live
 * but not-ready instance rather than a closed port. (Lag is measured inside the scorer, which
 * knows its positions.)
 */
export async function startScorerOps(options: ScorerOpsOptions): Promise<ScorerOps> {
  const { scorer } = options;
  let real: HealthProbe[] | undefined;
  let markStarted: () => void = () => undefined;
  const started = new Promise<void>((resolve) => (markStarted = resolve));
  const delegate = (name: ProbeName): HealthProbe => ({
    name,
    async check() {
      if (real === undefined) return { ok: false, detail: 'scorer starting' };
      const probe = real.find((p) => p.name === name);
      return probe === undefined ? { ok: true, detail: 'not used' } : probe.check();
    },
  });
  const ops = await startOps({
    instrumentation: scorer.instrumentation,
    logger: options.logger,
    port: options.port ?? DEFAULT_OPS_PORT,
    probes: [delegate('kafka-group'), delegate('redis'), delegate('registry')],
    census: {
      source: { census: (): Promise<PyramidCensus> => started.then(() => scorer.census()) },
      intervalMs: options.censusIntervalMs ?? 10_000,
    },
  });
  return {
    port: ops.port,
    scorerStarted() {
      real = scorer.probes();
      markStarted();
    },
    async close() {
      // A census still waiting for a start that never came must not hold the close.
      markStarted();
      await ops.close();
    },
  };
}
