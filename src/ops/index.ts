import type { Instrumentation } from '../instrumentation.js';
import type { Logger } from '../logger.js';
import { startCensusPoller, type CensusSource } from './census-poller.js';
import type { HealthProbe } from '../pipeline/readiness-probes.js';
import { createHealth } from './health.js';
import { startOpsServer } from './http-server.js';
import { startLagMonitor, type LagMonitor, type LagSource } from '../pipeline/lag-monitor.js';
import { createMetrics, type Metrics } from './metrics.js';
import { createStatusTracker } from './status.js';

export { DEFAULT_OPS_HOST, DEFAULT_OPS_PORT } from './http-server.js';
export type { CensusSource } from './census-poller.js';
export type { LagSource } from '../pipeline/lag-monitor.js';
export type { StatusSnapshot } from './status.js';

export interface StartOpsOptions {
  instrumentation: Instrumentation;
  logger: Logger;
  /** Default 9464; 0 picks a free port. */
  port?: number;
  /** Default loopback (see `DEFAULT_OPS_HOST`). */
  host?: string;
  /** Readiness checks; build them with `kafkaGroupProbe`, `redisProbe`, `registryProbe`. */
  probes: HealthProbe[];
  probeTimeoutMs?: number;
  /** When given, consumer lag is measured on a timer (see `startLagMonitor`). */
  lag?: { source: LagSource; intervalMs?: number };
  /** When given, the pyramid is counted on a timer (see `startCensusPoller`). */
  census?: { source: CensusSource; intervalMs?: number };
}

/** A running operator surface. */
export interface Ops {
  port: number;
  /** The address the server is bound to. */
  host: string;
  metrics: Metrics;
  /** Present when `lag` was configured: tests and the CLI can force a measurement. */
  lagMonitor: LagMonitor | undefined;
  close(): Promise<void>;
}

/**
 * Everything a scorer needs for operators in one call: metrics, status tracker, readiness, the
 * HTTP server, then the optional lag monitor and census poller. Closing stops them in reverse.
 * @throws PyramidError `HTTP_LISTEN_FAILED` when the server cannot listen; nothing is left running.
 */
export async function startOps(options: StartOpsOptions): Promise<Ops> {
  const { instrumentation, logger } = options;
  const metrics = createMetrics(instrumentation);
  const status = createStatusTracker(instrumentation);
  const health = createHealth({ probes: options.probes, timeoutMs: options.probeTimeoutMs, instrumentation });
  let listening;
  try {
    listening = await startOpsServer({ port: options.port, host: options.host, metrics, health, status, logger });
  } catch (err) {
    status.close();
    metrics.close();
    throw err;
  }
  // Timers start only once the port is ours: a poller started before a failed listen had to be
  // stopped, and stopping waited on a census that could never come, so `pyramid run` with a taken
  // port ended silently with status 0 (nothing left on the event loop, the error never thrown).
  const lagMonitor = options.lag ? startLagMonitor({ instrumentation, logger, source: options.lag.source, intervalMs: options.lag.intervalMs }) : undefined;
  const census = options.census ? startCensusPoller({ instrumentation, logger, source: options.census.source, intervalMs: options.census.intervalMs }) : undefined;
  return {
    port: listening.port,
    host: listening.host,
    metrics,
    lagMonitor,
    async close() {
      await listening.close();
      await census?.stop();
      await lagMonitor?.stop();
      status.close();
      metrics.close();
    },
  };
}
