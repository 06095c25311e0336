import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from './spawn-cli.js';

const ROOT = resolve(import.meta.dirname, '../..');

describe('pyramid demo (README quick start)', () => {
  it('`npm run demo -- --duration 8 --port 0` runs the whole pipeline, prints a pyramid and exits 0 (a free port: a taken 9464 is now an error)', async () => {
    // PYRAMID_REDIS_URL is left out, so the demo starts (and stops) its own redis-server.
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('PYRAMID_')) env[k] = v;
    const child = spawn('npm', ['run', 'demo', '--', '--duration', '8', '--port', '0'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    clearTimeout(timer);

    expect(code, stderr).toBe(0);
    expect(stdout).toMatch(/status page: http:\/\/127\.0\.0\.1:\d+\//);
    expect(stdout).toMatch(/tier\s+customers\s+share\s+revenue \(CNY\)/);
    const scored = [...stdout.matchAll(/\] (\d+) transactions scored/g)].map((m) => Number(m[1]));
    expect(scored.length).toBeGreaterThan(3);
    expect(scored[scored.length - 1]).toBeGreaterThan(0);
    expect(stdout).toMatch(/^small\s+[1-9]\d*\s/m);
    expect(stdout).toContain('pyramid demo: stopped');
  });

  it('without redis-server on PATH (and no PYRAMID_REDIS_URL) says exactly what to install', async () => {
    const result = await runCli(['demo', '--duration', '1', '--port', '0'], { PATH: '/nonexistent' });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('redis-server is not on PATH');
    expect(result.stderr).toContain('sudo apt-get install redis-server');
  });
});
