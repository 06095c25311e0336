import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';

/**
 * Throws, naming the Debian package, when `path` is missing (or, for a program, not executable):
 * a test that needs a real third-party tool must fail saying what to install, never skip silently.
 */
export function requireInstalled(path: string, aptPackage: string, what = path, kind: 'program' | 'file' = 'program'): void {
  try {
    accessSync(path, kind === 'program' ? constants.X_OK : constants.R_OK);
  } catch {
    throw new Error(`${what} not found at ${path}: install it with \`apt-get install ${aptPackage}\` (see README prerequisites)`);
  }
}

/** A long-running third-party process owned by a test (Prometheus, Burrow, ZooKeeper). */
export interface ExternalService {
  readonly child: ChildProcess;
  /** The last lines it wrote to stdout and stderr, for failure messages. */
  output(): string;
  /** Whether it has exited. */
  exited(): boolean;
  /** SIGTERM, SIGKILL after `graceMs`; resolves once it is gone. */
  stop(graceMs?: number): Promise<void>;
}

/** Spawns `command args` with output kept in memory (last 200 lines) instead of inherited. */
export function spawnService(name: string, command: string, args: string[], options: { cwd?: string } = {}): ExternalService {
  const child = spawn(command, args, { cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const keep = (chunk: Buffer): void => {
    lines.push(...chunk.toString().split('\n').filter((l) => l !== ''));
    if (lines.length > 200) lines.splice(0, lines.length - 200);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  child.on('error', (err) => lines.push(`${name}: ${err.message}`));
  const gone = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const exited = (): boolean => child.exitCode !== null || child.signalCode !== null;
  return {
    child,
    output: () => `${name} output (last ${Math.min(lines.length, 40)} lines):\n${lines.slice(-40).join('\n')}`,
    exited,
    async stop(graceMs = 5_000) {
      if (exited()) return gone;
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      try {
        await gone;
      } finally {
        clearTimeout(killer);
      }
    },
  };
}
