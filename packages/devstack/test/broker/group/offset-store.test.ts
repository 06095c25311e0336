import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { OffsetStore } from '../../../src/broker/group/offset-store.js';
import { silentLogger } from '../../../src/logger.js';

describe('OffsetStore', () => {
  const dirs: string[] = [];
  const stores: OffsetStore[] = [];

  function tempDir(): string {
    const dir = mkdtempSync(join(tmpdir(), 'pyramid-offsets-'));
    dirs.push(dir);
    return dir;
  }

  function open(dataDir: string | null): OffsetStore {
    const store = OffsetStore.open(dataDir, silentLogger);
    stores.push(store);
    return store;
  }

  afterEach(() => {
    for (const s of stores.splice(0)) s.close();
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('keeps offsets in memory without a data directory', () => {
    const store = open(null);
    store.commit('g', [{ topic: 't', partition: 1, offset: 5, metadata: 'x' }]);
    expect(store.get('g', 't', 1)).toEqual({ offset: 5, metadata: 'x' });
    expect(store.get('g', 't', 0)).toBeUndefined();
    expect(store.groupIds()).toEqual(['g']);
  });

  it('finds a commit again after the process died without closing the store (kill -9)', () => {
    const dir = tempDir();
    const first = OffsetStore.open(dir, silentLogger); // deliberately never closed
    first.commit('g', [
      { topic: 't', partition: 0, offset: 10, metadata: '' },
      { topic: 't', partition: 1, offset: 20, metadata: 'm' },
    ]);
    first.commit('g', [{ topic: 't', partition: 0, offset: 11, metadata: '' }]);

    const second = open(dir);
    stores.push(first); // closed only now, after the reopen has read what the crash left
    expect(second.list('g')).toEqual([
      { topic: 't', partition: 0, offset: 11, metadata: '' },
      { topic: 't', partition: 1, offset: 20, metadata: 'm' },
    ]);
  });

  it('drops a torn last line (a crash in mid-write) and keeps everything before it', () => {
    const dir = tempDir();
    const first = open(dir);
    first.commit('g', [{ topic: 't', partition: 0, offset: 3, metadata: '' }]);
    first.close();
    stores.pop();
    appendFileSync(join(dir, 'groups', 'offsets.jsonl'), '{"g":"g","c":[["t",0,99');

    expect(open(dir).get('g', 't', 0)).toEqual({ offset: 3, metadata: '' });
  });

  it('compacts the log at start-up to one line per group', () => {
    const dir = tempDir();
    const first = open(dir);
    for (let i = 0; i < 50; i++) first.commit('g', [{ topic: 't', partition: i % 3, offset: i, metadata: '' }]);
    first.commit('h', [{ topic: 'u', partition: 0, offset: 1, metadata: '' }]);
    first.close();
    stores.pop();

    const reopened = open(dir);
    const lines = readFileSync(join(dir, 'groups', 'offsets.jsonl'), 'utf8').trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(reopened.list('g').map((e) => e.offset)).toEqual([48, 49, 47]);
  });

  it('compacts a long-running log once it has grown far beyond the live offsets', () => {
    const dir = tempDir();
    const store = open(dir);
    for (let i = 0; i < 10_050; i++) store.commit('g', [{ topic: 't', partition: i % 2, offset: i, metadata: '' }]);
    const lines = readFileSync(join(dir, 'groups', 'offsets.jsonl'), 'utf8').trim().split('\n');
    expect(lines.length).toBeLessThan(100);
    expect(open(dir).list('g').map((e) => e.offset)).toEqual([10_048, 10_049]);
  });

  it('forgets a deleted topic durably', () => {
    const dir = tempDir();
    const first = open(dir);
    first.commit('g', [
      { topic: 'gone', partition: 0, offset: 1, metadata: '' },
      { topic: 'kept', partition: 0, offset: 2, metadata: '' },
    ]);
    first.deleteTopic('gone');
    first.close();
    stores.pop();

    expect(open(dir).list('g')).toEqual([{ topic: 'kept', partition: 0, offset: 2, metadata: '' }]);
  });

  it('refuses changes once closed instead of writing to a closed descriptor', () => {
    const store = open(tempDir());
    store.commit('g', [{ topic: 't', partition: 0, offset: 1, metadata: '' }]);
    store.close();
    expect(() => store.commit('g', [{ topic: 't', partition: 0, offset: 2, metadata: '' }])).toThrow(/closed/);
    expect(() => store.deleteTopic('t')).toThrow(/closed/);
    expect(store.get('g', 't', 0)).toEqual({ offset: 1, metadata: '' });
  });
});
