import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LOCK_FILE_NAME } from '../../src/registry/registry-log.js';
import { LOG_FILE_NAME, openFileLog, type RegistryEvent } from '../../src/registry/registry-log.js';

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'pyramid-registry-log-'));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const config: RegistryEvent = { type: 'config', subject: null, compatibility: 'FULL' };
const version: RegistryEvent = { type: 'version', subject: 's', version: 1, id: 1 };

describe('openFileLog', () => {
  it('replays what was appended, in order', () => {
    const dir = tempDir();
    const log = openFileLog(dir);
    log.append(config);
    log.append(version);
    log.close();
    const reopened = openFileLog(dir);
    expect(reopened.replay).toEqual([config, version]);
    reopened.close();
  });

  it('cuts a torn last line (crash mid-write) so the next append starts clean', () => {
    const dir = tempDir();
    const log = openFileLog(dir);
    log.append(config);
    log.close();
    appendFileSync(join(dir, LOG_FILE_NAME), '{"type":"vers');

    const afterCrash = openFileLog(dir);
    expect(afterCrash.replay).toEqual([config]);
    afterCrash.append(version);
    afterCrash.close();
    expect(readFileSync(join(dir, LOG_FILE_NAME), 'utf8')).toBe(`${JSON.stringify(config)}\n${JSON.stringify(version)}\n`);
  });

  it('refuses a corrupt line in the middle rather than renumbering ids', () => {
    const dir = tempDir();
    writeFileSync(join(dir, LOG_FILE_NAME), `${JSON.stringify(config)}\nnot json\n${JSON.stringify(version)}\n`);
    expect(() => openFileLog(dir)).toThrow(/:2: corrupt registry log line/);
  });
});

describe('data dir lock', () => {
  it('refuses a second log on a directory that is in use, and frees it on close', () => {
    const dir = tempDir();
    const log = openFileLog(dir);
    expect(() => openFileLog(dir)).toThrow(/in use by another schema registry/);
    log.close();
    openFileLog(dir).close();
  });

  it('takes over a lock left by a process that no longer exists', () => {
    const dir = tempDir();
    // Pid far above any real pid_max: certainly not running.
    writeFileSync(join(dir, LOCK_FILE_NAME), '2147483646');
    const log = openFileLog(dir);
    expect(readFileSync(join(dir, LOCK_FILE_NAME), 'utf8')).toBe(String(process.pid));
    log.close();
  });
});
