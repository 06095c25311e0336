import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Replaces a small JSON file atomically: write a temp file, fsync it, rename over the target, fsync
 * the directory. A crash at any point leaves either the old or the new content, never a torn file;
 * once this returns, the new content survives a power cut too (without the directory fsync the
 * rename itself could be lost, bringing back the old content or no file at all).
 *
 * `durable: false` skips both fsyncs: the replacement is still atomic for every process (a kill -9
 * of the writer leaves the old or the new content), but only the page cache holds it until the
 * kernel writes it back, like any write(2) under the broker's `fsync: 'never'`.
 */
export function writeJsonAtomic(path: string, value: unknown, options: { durable?: boolean } = {}): void {
  const durable = options.durable ?? true;
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, JSON.stringify(value, null, 2) + '\n');
    if (durable) fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  if (durable) fsyncDirectory(dirname(path));
}

/**
 * Forces the entries of `dir` (files created, renamed or removed in it) to stable storage: an
 * fsync of a file covers its data, not the directory entry that names it.
 */
export function fsyncDirectory(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Reads a JSON file written by {@link writeJsonAtomic}; `undefined` when it does not exist. */
export function readJsonIfExists(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as unknown;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
