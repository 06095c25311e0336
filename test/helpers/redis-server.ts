import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../packages/devstack/test/helpers/free-port.js';

/** A free TCP port on 127.0.0.1, chosen by the kernel (one helper for both test trees). */
export { freePort };

/** A redis-server child process owned by a test; never the user's own Redis. */
export interface RedisServerHandle {
  port: number;
  url: string;
  dir: string;
  stop(): Promise<void>;
  /** Kill -9: for crash tests. */
  kill(): Promise<void>;
}

export interface StartRedisOptions {
  port?: number;
  /** Extra redis-server arguments, e.g. ['--appendonly', 'yes'] or ['--cluster-enabled', 'yes']. */
  args?: string[];
  /** Reuse a data directory (restart tests). */
  dir?: string;
}


async function waitForPing(port: number, child: ChildProcess, timeoutMs: number): Promise<void> {
  const { Redis } = await import('ioredis');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with code ${child.exitCode}`);
    const client = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    // Refused connections are expected while the server starts; connect() reports them.
    client.on('error', () => {});
    try {
      await client.connect();
      await client.ping();
      client.disconnect();
      return;
    } catch {
      client.disconnect();
      if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not answer within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** Start a private redis-server on a free port (in-memory unless `args` says otherwise). */
export async function startRedisServer(options: StartRedisOptions = {}): Promise<RedisServerHandle> {
  const port = options.port ?? (await freePort());
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'pyramid-redis-'));
  const ownsDir = options.dir === undefined;
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...(options.args ?? [])];
  const child = spawn('redis-server', args, { stdio: 'ignore' });
  const spawnError = new Promise<never>((_, reject) => child.once('error', (err) => reject(new Error(`cannot start redis-server (is it installed? apt-get install redis-server): ${err.message}`))));
  await Promise.race([waitForPing(port, child, 10_000), spawnError]);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const finish = async (signal: NodeJS.Signals): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
  };
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    async stop() {
      await finish('SIGTERM');
      if (ownsDir) rmSync(dir, { recursive: true, force: true });
    },
    async kill() {
      await finish('SIGKILL');
    },
  };
}
