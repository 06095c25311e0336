import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startBroker } from '../../../src/devstack/broker/index.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('data directory ownership', () => {
  it('refuses a second broker on a directory in use, and allows it after close', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'broker-lock-'));
    dirs.push(dataDir);
    const first = await startBroker({ port: 0, dataDir });
    await expect(startBroker({ port: 0, dataDir })).rejects.toThrow(/in use/);
    await first.close();
    const second = await startBroker({ port: 0, dataDir });
    await second.close();
  });

  it('takes over a lock left by a process that no longer exists (kill -9)', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'broker-lock-'));
    dirs.push(dataDir);
    // PIDs are below 2^22 on Linux; this one cannot be running.
    writeFileSync(join(dataDir, 'broker.lock'), '99999999');
    const broker = await startBroker({ port: 0, dataDir });
    await broker.close();
  });
});
