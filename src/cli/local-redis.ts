import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { PyramidError } from '../errors.js';

/** A private redis-server child process (demo only). */
export interface LocalRedis {
  url: string;
  stop(): Promise<void>;
}

export const INSTALL_REDIS_HINT = 'install redis-server (Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis), or point PYRAMID_REDIS_URL at a Redis you own';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (address !== null && typeof address === 'object' ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/**
 * Starts redis-server on a free localhost port with nothing persisted, for `pyramid demo`. Never
 * touches a Redis on 6379.
 * @throws PyramidError PREREQUISITE_MISSING naming the package to install when redis-server is not on PATH.
 */
export async function startLocalRedis(): Promise<LocalRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'pyramid-demo-redis-'));
  // Its own process group: a Ctrl-C in the terminal reaches the whole foreground group, and a
  // Redis killed by it left the demo's shutdown retrying against nothing until its 15 s grace ran
  // out. The demo stops it itself, last (and kills it on any exit, below).
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore', detached: true });
  const failed = new Promise<never>((_, reject) => {
    child.once('error', (err: NodeJS.ErrnoException) => {
      reject(
        err.code === 'ENOENT'
          ? new PyramidError('PREREQUISITE_MISSING', `redis-server is not on PATH: ${INSTALL_REDIS_HINT}`)
          : new PyramidError('PREREQUISITE_MISSING', `cannot start redis-server: ${err.message}`),
      );
    });
    child.once('exit', (code) => reject(new PyramidError('PREREQUISITE_MISSING', `redis-server exited at start (code ${code})`)));
  });
  const url = `redis://127.0.0.1:${port}`;
  let gaveUp = false;
  const ready = (async () => {
    for (let attempt = 0; attempt < 200 && !gaveUp; attempt++) {
      const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      client.on('error', () => undefined);
      try {
        await client.connect();
        await client.ping();
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 50));
      } finally {
        client.disconnect();
      }
    }
    throw new PyramidError('PREREQUISITE_MISSING', `redis-server on port ${port} did not answer`);
  })();
  // Whichever loses the race must not surface later as an unhandled rejection.
  ready.catch(() => undefined);
  failed.catch(() => undefined);
  try {
    await Promise.race([ready, failed]);
  } catch (err) {
    gaveUp = true;
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // However this process ends (an uncaught error, process.exit), it takes its Redis with it.
  const killOnExit = (): void => {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', killOnExit);
  return {
    url,
    async stop() {
      process.off('exit', killOnExit);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
