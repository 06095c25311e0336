import { createServer, type Server } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { uniqueNames } from '../e2e/support.js';
import { freePort } from '../helpers/redis-server.js';
import { cliEnv, runCli } from './spawn-cli.js';

async function holdPort(): Promise<{ server: Server; port: number }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return { server, port: address.port };
}

/** What an operator sees of a failed start-up: exit 1, the one line on stderr, and nothing else worth reading. */
function expectOneLine(result: { code: number | string; stdout: string; stderr: string }, line: string): void {
  expect(result.code, result.stderr).toBe(1);
  expect(result.stderr.trimEnd()).toBe(line);
  // No follow-on warnings (a census asked a scorer that never started), no stack traces, and no
  // fatal log repeating the line; kafkajs's own retry lines (level error) may come before it.
  expect(result.stdout).not.toContain('the scorer is not started');
  expect(result.stdout).not.toContain('"stack"');
  for (const logged of result.stdout.split('\n').filter((l) => l !== '')) {
    const entry = JSON.parse(logged) as { level: number; component?: string };
    expect(entry.level, logged).toBeLessThan(entry.component === 'kafkajs' ? 60 : 40);
  }
}

describe('start-up failures of `pyramid run` exit 1 with one line naming the cause', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pyramid-startup-'));
  let held: { server: Server; port: number };
  let env: Record<string, string>;
  // No broker: every failure here comes before Kafka (or is Kafka being unreachable).
  let noBroker: string;
  beforeAll(async () => {
    held = await holdPort();
    noBroker = `127.0.0.1:${await freePort()}`;
    env = cliEnv({ brokers: [noBroker], redisUrl: inject('redisUrl'), names: uniqueNames('startup') });
  });
  afterAll(() => {
    held.server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a taken HTTP port (it exited 0 after a second, saying nothing)', async () => {
    const result = await runCli(['run'], { ...env, PYRAMID_HTTP_PORT: String(held.port) });
    expectOneLine(result, `pyramid: cannot listen on 127.0.0.1:${held.port}: address already in use (PYRAMID_HTTP_PORT)`);
  });

  it('an HTTP host that is not this machine names PYRAMID_HTTP_HOST', async () => {
    // 192.0.2.0/24 is TEST-NET-1 (RFC 5737): never assigned to a local interface.
    const result = await runCli(['run'], { ...env, PYRAMID_HTTP_HOST: '192.0.2.1' });
    expectOneLine(result, 'pyramid: cannot listen on 192.0.2.1:0: address not available on this host (PYRAMID_HTTP_HOST)');
  });

  it('Redis unreachable, without "the scorer is not started" after it', async () => {
    const port = await freePort();
    const result = await runCli(['run'], { ...env, PYRAMID_REDIS_URL: `redis://127.0.0.1:${port}` });
    expectOneLine(result, `pyramid: cannot connect to Redis at 127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port}`);
  });

  it('a Redis database the server does not have (/99 of 16 wrote to database 0)', async () => {
    const url = new URL(inject('redisUrl'));
    const result = await runCli(['run'], { ...env, PYRAMID_REDIS_URL: `redis://${url.host}/99` });
    expectOneLine(result, `pyramid: Redis at ${url.host} cannot select database 99 (PYRAMID_REDIS_URL): ERR DB index is out of range`);
  });

  it('a bad policy file: its problems, no stack', async () => {
    const policy = join(dir, 'bad-policy.yaml');
    writeFileSync(policy, 'version: "1"\nname: x\n');
    const result = await runCli(['run'], { ...env, PYRAMID_POLICY_FILE: policy });
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`^pyramid: policy ${policy.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is invalid:\\n`));
    expect(result.stderr).not.toMatch(/^\s+at /m);
    expect(result.stdout).not.toContain('the scorer is not started');
  });

  it('a broker that is not there, after kafkajs gave up retrying (its retry lines carry no stacks)', async () => {
    const result = await runCli(['run'], env);
    expectOneLine(result, `pyramid: kafka admin connect failed: Connection error: connect ECONNREFUSED ${noBroker}`);
  });

  it('a misspelt variable: did you mean ...?', async () => {
    const result = await runCli(['run'], { ...env, PYRAMID_CLOCKK: 'event' });
    expectOneLine(result, 'pyramid: invalid configuration:\n  - PYRAMID_CLOCKK: unknown variable; did you mean PYRAMID_CLOCK?');
  });

  it('PYRAMID_LOG_LEVEL=debug adds the stack and its causes', async () => {
    const port = await freePort();
    const result = await runCli(['run'], { ...env, PYRAMID_REDIS_URL: `redis://127.0.0.1:${port}`, PYRAMID_LOG_LEVEL: 'debug' });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`^pyramid: cannot connect to Redis at 127\\.0\\.0\\.1:${port}: connect ECONNREFUSED`));
    expect(result.stderr).toMatch(/^\s+at connectRedis /m);
    expect(result.stderr).toMatch(/^caused by: Error: connect ECONNREFUSED/m);
  });

  it('`pyramid demo --port <taken>` fails naming --port (it moved to a random port in silence)', async () => {
    const result = await runCli(['demo', '--duration', '5', '--port', String(held.port)], { PYRAMID_REDIS_URL: inject('redisUrl'), PYRAMID_LOG_LEVEL: 'warn' });
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr.trimEnd()).toBe(`pyramid: cannot listen on 127.0.0.1:${held.port}: address already in use (--port)`);
  });
});
