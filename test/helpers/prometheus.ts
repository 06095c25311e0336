import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pollUntil } from '../ops/live-support.js';
import { requireInstalled, spawnService } from './external-service.js';
import { freePort } from './redis-server.js';

const PROMETHEUS = '/usr/bin/prometheus';
const PROMTOOL = '/usr/bin/promtool';

/** Runs Debian's promtool with `args`; resolves with its exit code and output. */
export function promtool(args: string[], cwd?: string): Promise<{ code: number | null; output: string }> {
  requireInstalled(PROMTOOL, 'prometheus', 'promtool');
  return new Promise((resolve, reject) => {
    const child = spawn(PROMTOOL, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

export interface StartPrometheusOptions {
  /** `host:port` scraped as job `pyramid`, the job name the shipped alert rules expect. */
  readonly target: string;
  /** Absolute paths of rule files to load. */
  readonly ruleFiles: readonly string[];
  /** Scrape and rule evaluation interval; short, so a test has data within seconds. Default 1s. */
  readonly interval?: string;
}

/** Prometheus's HTTP API answer envelope. */
export interface PromResponse<T> {
  status: 'success' | 'error';
  data: T;
  errorType?: string;
  error?: string;
}

/** A Prometheus child on a free loopback port with its own temp TSDB directory. */
export interface PrometheusHandle {
  readonly url: string;
  /** GET `/api/v1/<path>` and parse the envelope (an error envelope is returned, not thrown). */
  api<T>(path: string): Promise<PromResponse<T>>;
  output(): string;
  stop(): Promise<void>;
}

/** Starts Debian's Prometheus with a generated config: one `pyramid` job and the given rules. */
export async function startPrometheus(options: StartPrometheusOptions): Promise<PrometheusHandle> {
  requireInstalled(PROMETHEUS, 'prometheus', 'Prometheus');
  const dir = mkdtempSync(join(tmpdir(), 'pyramid-prometheus-'));
  const port = await freePort();
  const interval = options.interval ?? '1s';
  const config = {
    global: { scrape_interval: interval, evaluation_interval: interval, scrape_timeout: interval },
    rule_files: options.ruleFiles,
    scrape_configs: [{ job_name: 'pyramid', metrics_path: '/metrics', static_configs: [{ targets: [options.target] }] }],
  };
  // JSON is YAML: no YAML writer needed for a generated config.
  writeFileSync(join(dir, 'prometheus.yml'), JSON.stringify(config, null, 2));
  const service = spawnService('prometheus', PROMETHEUS, [
    `--config.file=${join(dir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--log.level=warn',
  ]);
  const url = `http://127.0.0.1:${port}`;
  const stop = async (): Promise<void> => {
    await service.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  const ready = await pollUntil(async () => service.exited() || (await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(2_000) }).then((r) => r.ok, () => false)), 30_000, 100);
  if (!ready || service.exited()) {
    const output = service.output();
    await stop();
    throw new Error(`Prometheus did not become ready on ${url}\n${output}`);
  }
  return {
    url,
    output: service.output,
    stop,
    async api<T>(path: string) {
      return (await (await fetch(`${url}/api/v1/${path}`, { signal: AbortSignal.timeout(10_000) })).json()) as PromResponse<T>;
    },
  };
}
