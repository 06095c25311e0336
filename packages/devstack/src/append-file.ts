import { fdatasyncSync, ftruncateSync, writeSync } from 'node:fs';

/**
 * Appends all of `data` to the append-only file open as `fd` (opened with `'a'` or `'a+'`) whose
 * length is `length`, optionally fdatasync'ed, and returns the new length.
 *
 * When a write or the sync fails (ENOSPC, EIO, ...) the file is cut back to `length` before the
 * error is rethrown. Without that, the bytes of a half-written record would stay in front of the
 * next append: every reader of these files (segment scan, offset log and registry log replay)
 * would then misplace or drop the later, acknowledged records. fdatasync is enough for an append
 * to an existing file: data and size are all that a power cut could lose.
 */
export function appendWhole(fd: number, data: Buffer, length: number, sync: boolean): number {
  try {
    let done = 0;
    while (done < data.length) done += writeSync(fd, data, done, data.length - done);
    if (sync) fdatasyncSync(fd);
  } catch (err) {
    try {
      ftruncateSync(fd, length);
    } catch {
      // The original error is the one to report.
    }
    throw err;
  }
  return length + data.length;
}
