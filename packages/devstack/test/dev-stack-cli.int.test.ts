import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { Kafka, logLevel } from 'kafkajs';
import { afterEach, describe, expect, it } from 'vitest';
import { uniqueName } from './helpers/unique.js';

const packageRoot = fileURLToPath(new URL('..', import.meta.url));
const schema = JSON.stringify({ type: 'record', name: 'Ping', namespace: 'test.devstack', fields: [{ name: 'n', type: 'int' }] });

interface RunningStack {
  child: ChildProcess;
  broker: string;
  registryUrl: string;
  data: string;
  stderr: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const children: ChildProcess[] = [];
const dirs: string[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** Spawn the `dev-stack` CLI the way `npm run dev-stack` runs it (through tsx) and read its address line. */
function spawnDevStack(args: string[]): { child: ChildProcess; ready: Promise<RunningStack>; exit: RunningStack['exit']; stderr: () => string } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], { cwd: packageRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const ready = new Promise<RunningStack>((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const match = /^broker (\S+) {2}registry (\S+) {2}data (.+)$/m.exec(stdout);
      if (match) resolve({ child, broker: match[1] as string, registryUrl: match[2] as string, data: match[3] as string, stderr: () => stderr, exit });
    });
    void exit.then(({ code }) => reject(new Error(`dev-stack exited (${code}) before printing its addresses:\n${stderr}`)));
  });
  return { child, ready, exit, stderr: () => stderr };
}

async function registerPing(registryUrl: string, subject: string): Promise<number> {
  const client = new SchemaRegistry({ host: registryUrl, retry: { retries: 0 } });
  return (await client.register({ type: 'AVRO' as never, schema }, { subject })).id;
}

async function listTopics(broker: string): Promise<string[]> {
  const admin = new Kafka({ brokers: [broker], clientId: 'dev-stack-cli-test', logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    return await admin.listTopics();
  } finally {
    await admin.disconnect();
  }
}

async function createTopic(broker: string, topic: string): Promise<void> {
  const admin = new Kafka({ brokers: [broker], clientId: 'dev-stack-cli-test', logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true });
  } finally {
    await admin.disconnect();
  }
}

describe('dev-stack CLI', () => {
  it('prints its addresses, serves Kafka and the registry, and exits 0 on SIGTERM', async () => {
    const stack = await spawnDevStack(['--in-memory', '--broker-port', '0', '--registry-port', '0']).ready;
    expect(stack.data).toBe('in-memory');
    expect(stack.broker).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(stack.registryUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

    const subject = uniqueName('cli-value');
    const id = await registerPing(stack.registryUrl, subject);
    const latest = await fetch(`${stack.registryUrl}/subjects/${subject}/versions/latest`);
    expect(await latest.json()).toMatchObject({ subject, version: 1, id });

    const topic = uniqueName('cli-topic');
    await createTopic(stack.broker, topic);
    expect(await listTopics(stack.broker)).toContain(topic);

    stack.child.kill('SIGTERM');
    expect(await stack.exit).toEqual({ code: 0, signal: null });
  });

  it('keeps topics and schemas in --data-dir across a restart, and exits 0 on SIGINT', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'pyramid-devstack-'));
    dirs.push(dataDir);
    const args = ['--data-dir', dataDir, '--broker-port', '0', '--registry-port', '0'];
    const subject = uniqueName('cli-persist-value');
    const topic = uniqueName('cli-persist-topic');

    const first = await spawnDevStack(args).ready;
    expect(first.data).toBe(dataDir);
    const id = await registerPing(first.registryUrl, subject);
    await createTopic(first.broker, topic);
    first.child.kill('SIGINT');
    expect(await first.exit).toEqual({ code: 0, signal: null });

    const second = await spawnDevStack(args).ready;
    const fresh = new SchemaRegistry({ host: second.registryUrl, retry: { retries: 0 } });
    expect(await fresh.getLatestSchemaId(subject)).toBe(id);
    expect(await listTopics(second.broker)).toContain(topic);
    second.child.kill('SIGTERM');
    expect(await second.exit).toEqual({ code: 0, signal: null });
  });

  it('fails with exit code 1 and a message when a port is taken', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    try {
      const taken = (blocker.address() as { port: number }).port;
      const run = spawnDevStack(['--in-memory', '--broker-port', '0', '--registry-port', String(taken)]);
      run.ready.catch(() => undefined);
      expect(await run.exit).toEqual({ code: 1, signal: null });
      expect(run.stderr()).toContain(`cannot listen on 127.0.0.1:${taken}`);
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  });

  it('rejects a port that is not a port', async () => {
    const run = spawnDevStack(['--in-memory', '--broker-port', 'ninety']);
    run.ready.catch(() => undefined);
    expect((await run.exit).code).not.toBe(0);
    expect(run.stderr()).toMatch(/--broker-port.*integer from 0 to 65535/);
  });
});
