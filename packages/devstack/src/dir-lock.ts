import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Claims `dataDir` for this process through `<dataDir>/<lockFile>` holding the owner's pid, so two
 * embedded servers never append to the same files (two brokers would interleave segments, two
 * registries would hand out the same ids). A lock left by a process that no longer exists
 * (kill -9) is taken over; one held by a live process, this one included, is not. Returns the
 * release function.
 *
 * @param what names the server in the error, e.g. "broker" or "schema registry".
 * @throws Error when a live process holds the directory.
 */
export function lockDataDir(dataDir: string, lockFile: string, what: string): () => void {
  const path = join(dataDir, lockFile);
  for (;;) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => unlinkSync(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const owner = Number.parseInt(readFileSync(path, 'utf8'), 10);
    if (Number.isInteger(owner) && owner > 0 && isAlive(owner)) {
      throw new Error(`data directory ${dataDir} is in use by another ${what} (pid ${owner}); stop it or use another data dir`);
    }
    // Stale (or unreadable) lock: remove it and race for it again like any other claimant.
    unlinkSync(path);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
