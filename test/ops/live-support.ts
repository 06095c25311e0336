import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

/**
 * Helpers for the live operator-surface checks: reading a running scorer's /metrics and driving a
 * `pyramid demo` child process.
 */

/** Samples of a Prometheus text exposition: `name{labels}` exactly as printed → value. */
export function parseExposition(exposition: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of exposition.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    samples.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return samples;
}

/** One sample's value; throws when the series is absent, so a missing metric never reads as 0. */
export function sampleValue(samples: Map<string, number>, series: string): number {
  const value = samples.get(series);
  if (value === undefined) throw new Error(`series ${series} not in /metrics`);
  return value;
}

/** Samples of one metric family whose series match `filter`, keyed by the full series text. */
export function family(samples: Map<string, number>, name: string, filter: (series: string) => boolean = () => true): Map<string, number> {
  return new Map([...samples].filter(([series]) => series.startsWith(`${name}{`) && filter(series)));
}

/** GET a URL and return status and body text. */
export async function httpGet(url: string): Promise<{ status: number; body: string }> {
  const res = await fetch(url);
  return { status: res.status, body: await res.text() };
}

/** Polls `check` until it holds or `timeoutMs` passes; returns whether it held. */
export async function pollUntil(check: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 200): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** A `pyramid demo` child and what it printed about itself. */
export interface DemoProcess {
  child: ChildProcess;
  /** Every stdout line so far. */
  lines: string[];
  /** Resolves with the first stdout line matching `pattern` (rejects if the demo exits first). */
  waitForLine(pattern: RegExp, timeoutMs: number): Promise<RegExpExecArray>;
  /** SIGTERM, then wait for the exit (SIGKILL after `graceMs`); resolves with the exit code. */
  stop(graceMs?: number): Promise<number | null>;
}

/**
 * Starts `node bin/pyramid.js demo <args>` (the CLI as a user runs it). PYRAMID_REDIS_URL is
 * removed from its environment so the demo starts its own private redis-server.
 */
export function spawnDemo(args: string[]): DemoProcess {
  const bin = new URL('../../bin/pyramid.js', import.meta.url).pathname;
  const env: NodeJS.ProcessEnv = { ...process.env, PYRAMID_LOG_LEVEL: 'warn' };
  delete env.PYRAMID_REDIS_URL;
  const child = spawn(process.execPath, [bin, 'demo', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const stderr: string[] = [];
  const waiters = new Set<() => void>();
  let exited: number | null | undefined;
  createInterface({ input: child.stdout! }).on('line', (line) => {
    lines.push(line);
    for (const w of waiters) w();
  });
  createInterface({ input: child.stderr! }).on('line', (line) => stderr.push(line));
  const exit = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      exited = code;
      for (const w of waiters) w();
      resolve(code);
    }),
  );
  return {
    child,
    lines,
    waitForLine(pattern, timeoutMs) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          for (const line of lines) {
            const m = pattern.exec(line);
            if (m) {
              done();
              return resolve(m);
            }
          }
          if (exited !== undefined) {
            done();
            reject(new Error(`demo exited (${exited}) before printing ${pattern}; stderr:\n${stderr.slice(-20).join('\n')}`));
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`demo did not print ${pattern} within ${timeoutMs} ms; stdout tail:\n${lines.slice(-10).join('\n')}\nstderr:\n${stderr.slice(-20).join('\n')}`));
        }, timeoutMs);
        const done = (): void => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    async stop(graceMs = 15_000) {
      if (exited !== undefined) return exited;
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      try {
        return await exit;
      } finally {
        clearTimeout(killer);
      }
    },
  };
}
