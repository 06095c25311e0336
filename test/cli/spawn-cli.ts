import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '../..');

/** A `pyramid` CLI child process (through tsx, as `npm run pyramid` does). */
export interface CliProcess {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code (or the signal name when killed). */
  exited: Promise<number | string>;
}

/** Starts `pyramid <args>` with `env` added to a minimal environment (no PYRAMID_* leaks in). */
export function startCli(args: string[], env: Record<string, string>): CliProcess {
  const base: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('PYRAMID_')) base[k] = v;
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: ROOT, env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const exited = new Promise<number | string>((resolveExit) => child.once('exit', (code, signal) => resolveExit(code ?? signal ?? -1)));
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** Runs `pyramid <args>` to completion. */
export async function runCli(args: string[], env: Record<string, string>, timeoutMs = 60_000): Promise<{ code: number | string; stdout: string; stderr: string }> {
  const cli = startCli(args, env);
  const timer = setTimeout(() => cli.child.kill('SIGKILL'), timeoutMs);
  const code = await cli.exited;
  clearTimeout(timer);
  return { code, stdout: cli.stdout(), stderr: cli.stderr() };
}

/** The PYRAMID_* environment of a test deployment. */
export function cliEnv(options: {
  brokers: string[];
  redisUrl: string;
  names: { transactions: string; tierChanges: string; signals?: string; dlq: string; groupId: string; keyPrefix: string };
  registryUrl?: string;
  extra?: Record<string, string>;
}): Record<string, string> {
  return {
    PYRAMID_KAFKA_BROKERS: options.brokers.join(','),
    PYRAMID_REDIS_URL: options.redisUrl,
    PYRAMID_TOPIC_TRANSACTIONS: options.names.transactions,
    PYRAMID_TOPIC_TIER_CHANGES: options.names.tierChanges,
    PYRAMID_TOPIC_SIGNALS: options.names.signals ?? `${options.names.tierChanges}-signals`,
    PYRAMID_TOPIC_DLQ: options.names.dlq,
    PYRAMID_GROUP_ID: options.names.groupId,
    PYRAMID_KEY_PREFIX: options.names.keyPrefix,
    PYRAMID_POLICY_FILE: resolve(ROOT, 'policies/default.yaml'),
    PYRAMID_INPUT_FORMAT: 'json',
    PYRAMID_HTTP_PORT: '0',
    PYRAMID_LOG_LEVEL: 'warn',
    PYRAMID_CONSUMER_SESSION_TIMEOUT: '6s',
    PYRAMID_CONSUMER_HEARTBEAT_INTERVAL: '500',
    ...(options.registryUrl === undefined ? {} : { PYRAMID_REGISTRY_URL: options.registryUrl }),
    ...options.extra,
  };
}
