import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as NodeFs from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { appendWhole } from '../src/append-file.js';
import { openFileLog } from '../src/registry/registry-log.js';

/** When set, the next writeSync writes half of its bytes for real and then fails like a full disk. */
const failNextWrite = vi.hoisted(() => ({ armed: false }));

vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof NodeFs>();
  const realWrite = fs.writeSync as (fd: number, data: unknown, ...rest: unknown[]) => number;
  const writeSync = ((fd: number, data: unknown, ...rest: unknown[]): number => {
    if (!failNextWrite.armed || !Buffer.isBuffer(data)) return realWrite(fd, data, ...rest);
    failNextWrite.armed = false;
    const offset = typeof rest[0] === 'number' ? rest[0] : 0;
    const length = typeof rest[1] === 'number' ? rest[1] : data.length - offset;
    fs.writeSync(fd, data, offset, Math.max(1, Math.floor(length / 2)));
    throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
  }) as typeof fs.writeSync;
  return { ...fs, default: { ...fs, writeSync }, writeSync };
});

describe('append of a record that fails half-way (regression: its partial bytes stayed in front of the next record)', () => {
  const dirs: string[] = [];

  function tempDir(): string {
    const dir = mkdtempSync(join(tmpdir(), 'pyramid-append-'));
    dirs.push(dir);
    return dir;
  }

  afterEach(() => {
    failNextWrite.armed = false;
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('cuts the file back, so the next append starts where the failed one did', () => {
    const path = join(tempDir(), 'data');
    const fd = openSync(path, 'a+');
    try {
      let length = appendWhole(fd, Buffer.from('first\n'), 0, false);
      failNextWrite.armed = true;
      expect(() => appendWhole(fd, Buffer.from('lost record\n'), length, false)).toThrow(/ENOSPC/);
      length = appendWhole(fd, Buffer.from('second\n'), length, true);
      expect(length).toBe(13);
      expect(readFileSync(path, 'utf8')).toBe('first\nsecond\n');
    } finally {
      closeSync(fd);
    }
  });

  it('keeps the schema registry log readable: the events before and after the failure replay', () => {
    const dir = tempDir();
    const log = openFileLog(dir);
    log.append({ type: 'config', subject: null, compatibility: 'BACKWARD' });
    failNextWrite.armed = true;
    expect(() => log.append({ type: 'config', subject: 'lost', compatibility: 'NONE' })).toThrow(/ENOSPC/);
    log.append({ type: 'config', subject: 'kept', compatibility: 'FULL' });
    log.close();

    const reopened = openFileLog(dir);
    try {
      expect(reopened.replay).toEqual([
        { type: 'config', subject: null, compatibility: 'BACKWARD' },
        { type: 'config', subject: 'kept', compatibility: 'FULL' },
      ]);
    } finally {
      reopened.close();
    }
  });
});
