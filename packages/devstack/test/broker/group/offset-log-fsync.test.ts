import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as NodeFs from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { OffsetLog } from '../../../src/broker/group/offset-log.js';
import { OffsetStore } from '../../../src/broker/group/offset-store.js';
import { silentLogger } from '../../../src/logger.js';

/** Paths of the files fdatasync was called on, in call order (resolved through /proc/self/fd). */
const synced = vi.hoisted(() => [] as string[]);

// Spy on the real fdatasync (it still runs) to see which file each call reached.
vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof NodeFs>();
  const fdatasyncSync = (fd: number): void => {
    synced.push(fs.readlinkSync(`/proc/self/fd/${fd}`));
    fs.fdatasyncSync(fd);
  };
  return { ...fs, default: { ...fs, fdatasyncSync }, fdatasyncSync };
});

describe('offset log fsync policy', () => {
  const dirs: string[] = [];
  const closers: Array<() => void> = [];

  function tempDir(): string {
    const dir = mkdtempSync(join(tmpdir(), 'pyramid-offset-fsync-'));
    dirs.push(dir);
    return dir;
  }

  afterEach(() => {
    for (const c of closers.splice(0)) c();
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
    synced.length = 0;
  });

  it("fdatasyncs the log file on every append under 'always'", () => {
    const dir = tempDir();
    const { log } = OffsetLog.open(dir, silentLogger, 'always');
    closers.push(() => log.close());
    const file = join(realpathSync(dir), 'offsets.jsonl');
    synced.length = 0;

    log.append({ g: 'g', c: [['t', 0, 1, '']] });
    log.append({ g: 'g', c: [['t', 0, 2, '']] });
    log.append({ dt: 't' });
    expect(synced).toEqual([file, file, file]);
  });

  it("does not fdatasync appends under 'never' (the default)", () => {
    const dir = tempDir();
    const { log } = OffsetLog.open(dir, silentLogger);
    closers.push(() => log.close());
    expect(log.fsync).toBe('never');
    synced.length = 0;

    log.append({ g: 'g', c: [['t', 0, 1, '']] });
    log.append({ dt: 't' });
    expect(synced).toEqual([]);
  });

  it('the offset store passes its policy to the log and reports it', () => {
    const always = OffsetStore.open(tempDir(), silentLogger, 'always');
    closers.push(() => always.close());
    const never = OffsetStore.open(tempDir(), silentLogger, 'never');
    closers.push(() => never.close());
    expect(always.fsync).toBe('always');
    expect(never.fsync).toBe('never');
    expect(OffsetStore.open(null, silentLogger, 'always').fsync).toBeNull();

    synced.length = 0;
    always.commit('g', [{ topic: 't', partition: 0, offset: 7, metadata: '' }]);
    always.deleteTopic('t');
    never.commit('g', [{ topic: 't', partition: 0, offset: 7, metadata: '' }]);
    expect(synced.filter((p) => p.endsWith('/groups/offsets.jsonl'))).toHaveLength(2);
  });
});
