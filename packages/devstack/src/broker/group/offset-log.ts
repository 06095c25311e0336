import { closeSync, existsSync, fstatSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../logger.js';
import { appendWhole } from '../../append-file.js';
import { fsyncDirectory } from '../log/json-file.js';
import type { FsyncPolicy } from '../fsync-policy.js';

/** One committed offset as the coordinator keeps it. */
export interface CommittedOffset {
  readonly offset: number;
  /** Kafka stores a null commit metadata as `""` (OffsetAndMetadata.NoMetadata). */
  readonly metadata: string;
}

/** group → topic → partition → committed offset. */
export type OffsetTable = Map<string, Map<string, Map<number, CommittedOffset>>>;

/**
 * Everything the log holds: the committed offsets, and per producer id the offsets its ongoing
 * transaction will commit (TxnOffsetCommit), which become committed or vanish when it ends.
 */
export interface OffsetState {
  readonly committed: OffsetTable;
  readonly pending: Map<number, OffsetTable>;
}

/**
 * One line of the log: all partitions of one OffsetCommit request (with `p`: of one
 * TxnOffsetCommit of producer `p`, pending), the end of producer `te`'s transaction for groups
 * `gs` (its pending offsets of them committed when `ok`, dropped otherwise), or the removal of a topic.
 */
export type LogLine =
  | { readonly g: string; readonly c: readonly (readonly [string, number, number, string])[]; readonly p?: number }
  | { readonly te: number; readonly ok: boolean; readonly gs: readonly string[] }
  | { readonly dt: string };

const FILE = 'offsets.jsonl';

/**
 * Append-only file of offset commits, `<dir>/offsets.jsonl`, one JSON line per OffsetCommit
 * request so that a request is recovered all-or-nothing.
 *
 * Durability: each append is a synchronous `write(2)` that returns before the OffsetCommit response
 * is sent, so a `kill -9` of the broker after the response cannot lose the commit (the bytes are in
 * the OS page cache). With the broker's default `fsync: 'never'` there is no fsync per commit, like
 * Kafka's defaults (`flush.messages` is unbounded): a power loss may drop the newest commits, which
 * consumers then redo. With `fsync: 'always'` each append is also fdatasync'ed before it returns, so
 * an answered commit (or topic deletion) survives a power cut too.
 *
 * Recovery reads the whole file, ignores a torn last line (a crash in mid-write), and rewrites the
 * live offsets compactly (temp file, fsync, rename), so the file stays proportional to the number of
 * committed partitions across restarts; a long-running broker also compacts when the log has grown
 * far beyond the live set.
 */
export class OffsetLog {
  private fd: number;
  /** Length of the file, where the next line starts. */
  private length: number;
  private linesSinceCompaction = 0;

  private constructor(
    private readonly dir: string,
    private readonly logger: Logger,
    /** `'always'`: every append is fdatasync'ed before it returns. */
    readonly fsync: FsyncPolicy,
    fd: number,
  ) {
    this.fd = fd;
    this.length = fstatSync(fd).size;
  }

  /**
   * Opens (creating `dir` if needed) and recovers the offsets committed before. `fsync` is the
   * broker's policy (default `'never'`).
   */
  static open(dir: string, logger: Logger, fsync: FsyncPolicy = 'never'): { log: OffsetLog; state: OffsetState } {
    mkdirSync(dir, { recursive: true });
    const path = join(dir, FILE);
    const state: OffsetState = { committed: new Map(), pending: new Map() };
    if (existsSync(path)) replay(readFileSync(path, 'utf8'), state, logger);
    writeCompacted(dir, state);
    const log = new OffsetLog(dir, logger, fsync, openSync(path, 'a'));
    return { log, state };
  }

  /**
   * Appends one line; durable against a process crash when it returns, and against a power cut
   * as well under `fsync: 'always'`.
   */
  append(line: LogLine): void {
    // The file already exists (the directory entry was fsync'ed by writeCompacted), so fdatasync
    // is enough. A failed append is cut off again, so it cannot glue itself to the next line.
    this.length = appendWhole(this.fd, Buffer.from(`${JSON.stringify(line)}\n`, 'utf8'), this.length, this.fsync === 'always');
    this.linesSinceCompaction++;
  }

  /** Rewrites the file from `state` once the log has grown far beyond the live offsets. */
  maybeCompact(state: OffsetState): void {
    if (this.linesSinceCompaction > 10_000 && this.linesSinceCompaction > 4 * countAll(state)) {
      this.compact(state);
    }
  }

  private compact(state: OffsetState): void {
    closeSync(this.fd);
    writeCompacted(this.dir, state);
    this.fd = openSync(join(this.dir, FILE), 'a');
    this.length = fstatSync(this.fd).size;
    this.linesSinceCompaction = 0;
    this.logger.debug({ entries: countAll(state) }, 'offset log compacted');
  }

  close(): void {
    closeSync(this.fd);
  }
}

function replay(text: string, state: OffsetState, logger: Logger): void {
  const lines = text.split('\n');
  // Everything after the last newline is a write the crash interrupted: it was never acknowledged.
  const tail = lines.pop();
  if (tail !== undefined && tail.length > 0) logger.warn({ bytes: tail.length }, 'offset log: dropped a torn last line');
  for (const [i, raw] of lines.entries()) {
    if (raw.length === 0) continue;
    let line: LogLine;
    try {
      line = JSON.parse(raw) as LogLine;
    } catch {
      logger.warn({ line: i + 1 }, 'offset log: skipped an unreadable line');
      continue;
    }
    applyLine(line, state);
  }
}

/** Applies one log line to the state; shared by recovery and by live commits. */
export function applyLine(line: LogLine, state: OffsetState): void {
  if ('dt' in line) {
    for (const topics of state.committed.values()) topics.delete(line.dt);
    for (const table of state.pending.values()) for (const topics of table.values()) topics.delete(line.dt);
    return;
  }
  if ('te' in line) {
    const table = state.pending.get(line.te);
    if (table === undefined) return;
    for (const groupId of line.gs) {
      const topics = table.get(groupId);
      table.delete(groupId);
      if (!line.ok || topics === undefined) continue;
      for (const [topic, partitions] of topics) {
        for (const [partition, committed] of partitions) setOffset(state.committed, groupId, topic, partition, committed);
      }
    }
    if (table.size === 0) state.pending.delete(line.te);
    return;
  }
  let table = state.committed;
  if (line.p !== undefined) {
    table = state.pending.get(line.p) ?? new Map();
    state.pending.set(line.p, table);
  }
  for (const [topic, partition, offset, metadata] of line.c) setOffset(table, line.g, topic, partition, { offset, metadata });
}

function setOffset(table: OffsetTable, groupId: string, topic: string, partition: number, committed: CommittedOffset): void {
  let topics = table.get(groupId);
  if (topics === undefined) table.set(groupId, (topics = new Map()));
  let partitions = topics.get(topic);
  if (partitions === undefined) topics.set(topic, (partitions = new Map()));
  partitions.set(partition, committed);
}

function writeCompacted(dir: string, state: OffsetState): void {
  const tmp = join(dir, `${FILE}.tmp`);
  const fd = openSync(tmp, 'w');
  const writeTable = (table: OffsetTable, producerId?: number): void => {
    for (const [groupId, topics] of table) {
      const c: [string, number, number, string][] = [];
      for (const [topic, partitions] of topics) {
        for (const [partition, { offset, metadata }] of partitions) c.push([topic, partition, offset, metadata]);
      }
      if (c.length > 0) writeFully(fd, `${JSON.stringify(producerId === undefined ? { g: groupId, c } : { g: groupId, c, p: producerId })}\n`);
    }
  };
  try {
    writeTable(state.committed);
    // Pending offsets survive a restart, so a transaction still open (or finished on recovery)
    // commits them exactly as it would have without one.
    for (const [producerId, table] of state.pending) writeTable(table, producerId);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, join(dir, FILE));
  // The rename itself must reach the disk, or a power loss could bring back the old file.
  fsyncDirectory(dir);
}

function writeFully(fd: number, text: string): void {
  const bytes = Buffer.from(text, 'utf8');
  let written = 0;
  while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written);
}

function countAll(state: OffsetState): number {
  let n = countEntries(state.committed);
  for (const table of state.pending.values()) n += countEntries(table);
  return n;
}

function countEntries(table: OffsetTable): number {
  let n = 0;
  for (const topics of table.values()) for (const partitions of topics.values()) n += partitions.size;
  return n;
}
