import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');

/** Runs `script` (an ES module body) in a child node with tsx; resolves with its status and output. */
function runNode(script: string): Promise<{ code: number | null; stdout: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  return new Promise((resolveRun) =>
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolveRun({ code, stdout });
    }),
  );
}

const prelude = `
  import { exitOnceStopped } from './src/cli/signals.ts';
  import { createLogger } from './src/logger.ts';
  const logger = createLogger({ level: 'warn', name: 'pyramid' });
`;

describe('exitOnceStopped', () => {
  it('ends a process that a leaked handle would keep alive, with the status set, naming what was open', async () => {
    const run = await runNode(`${prelude}
      setInterval(() => undefined, 1_000); // a handle nothing will ever close
      process.exitCode = 3;
      exitOnceStopped(logger);
    `);
    expect(run.code).toBe(3);
    const line = JSON.parse(run.stdout.trim().split('\n').pop()!) as { msg: string; open: string[] };
    expect(line.msg).toBe('still running 5000 ms after the scorer stopped; exiting');
    expect(line.open).toContain('Timeout');
  });

  it('does not hold a process whose handles all closed: it ends by itself, saying nothing (a held one would log the warning)', async () => {
    const run = await runNode(`${prelude}
      setTimeout(() => undefined, 100);
      exitOnceStopped(logger);
    `);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe('');
  });
});
