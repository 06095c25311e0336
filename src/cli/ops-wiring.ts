import { isPyramidError, PyramidError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { HealthProbe, ProbeName } from '../pipeline/readiness-probes.js';
import { DEFAULT_OPS_HOST, DEFAULT_OPS_PORT, startOps } from '../ops/index.js';
import type { PyramidCensus } from '../pipeline/census.js';
import type { Scorer } from '../pipeline/scorer.js';

export interface ScorerOpsOptions {
  scorer: Scorer;
  /** Default 9464; 0 picks a free port. */
  port?: number;
  /** Interface to listen on; default loopback (`DEFAULT_OPS_HOST`). */
  host?: string;
  /**
   * How often the per-tier census is read from Redis; default 10 s. It reads the per-tier
   * counters of each partition (a few fields each), which every commit moves with the customers it
   * writes, so no customer is scanned. The status page says when the census was taken.
   */
  censusIntervalMs?: number;
  logger: Logger;
  /**
   * The settings an operator changes when the server cannot listen, named at the end of the
   * error: `{ port: 'PYRAMID_HTTP_PORT', host: 'PYRAMID_HTTP_HOST' }`, or a command's flags.
   */
  settings?: { port: string; host?: string };
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
  // true once the scorer started, false when closed before it did: a census waiting for the start
  // then counts nothing (asking the scorer printed "the scorer is not started" after every failed
  // start-up, under the real error).
  let settleStart: (started: boolean) => void = () => undefined;
  const started = new Promise<boolean>((resolve) => (settleStart = resolve));
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
    host: options.host ?? DEFAULT_OPS_HOST,
    probes: [delegate('kafka-group'), delegate('redis'), delegate('registry')],
    census: {
      source: { census: async (): Promise<PyramidCensus | undefined> => ((await started) ? scorer.census() : undefined) },
      intervalMs: options.censusIntervalMs ?? 10_000,
    },
  }).catch((err: unknown) => {
    throw nameTheSetting(err, options.settings);
  });
  return {
    port: ops.port,
    scorerStarted() {
      real = scorer.probes();
      settleStart(true);
    },
    async close() {
      // A census still waiting for a start that never came must not hold the close.
      settleStart(false);
      await ops.close();
    },
  };
}

/** A listen error with the setting to change appended: the port when it is taken or privileged, else the host. */
function nameTheSetting(err: unknown, settings: ScorerOpsOptions['settings']): unknown {
  if (settings === undefined || !isPyramidError(err, 'HTTP_LISTEN_FAILED')) return err;
  const errno = err.details?.errno;
  const setting = errno === 'EADDRINUSE' || errno === 'EACCES' || settings.host === undefined ? settings.port : settings.host;
  return new PyramidError(err.code, `${err.message} (${setting})`, { cause: err.cause, details: err.details });
}
