import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/** The lock file a registry holds in its data directory while it runs. */
export const LOCK_FILE_NAME = 'schema-registry.lock';

/**
 * Claim `dataDir` for this process: two registries appending to one log would hand out the same
 * ids. The lock file holds the owner's pid; a lock left by a process that no longer exists
 * (kill -9) is taken over; one held by this very process is not (a second registry on the same
 * directory in one process is the same mistake). Returns the release function.
 *
 * @throws Error when a live process holds the directory.
 */
export function lockDataDir(dataDir: string): () => void {
  const path = join(dataDir, LOCK_FILE_NAME);
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
    if (Number.isInteger(owner) && isAlive(owner)) {
      throw new Error(`${dataDir} is in use by another schema registry (pid ${owner}); stop it or use another data dir`);
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
