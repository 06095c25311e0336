import { closeSync, ftruncateSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { appendWhole } from '../append-file.js';
import type { CompatibilityLevel } from './compatibility.js';
import { lockDataDir } from '../dir-lock.js';

/** The lock file a registry holds in its data directory while it runs. */
export const LOCK_FILE_NAME = 'schema-registry.lock';

/** A reference from one schema to a schema registered under another subject (Confluent `references`). */
export interface SchemaReference {
  name: string;
  subject: string;
  version: number;
}

/**
 * Every change to the registry, in the order it happened. The store's state is exactly the replay
 * of these events, which is what makes an append-only log enough for durability.
 */
export type RegistryEvent =
  | { type: 'schema'; id: number; schema: string; identity: string; references: SchemaReference[] }
  | { type: 'version'; subject: string; version: number; id: number }
  | { type: 'version-deleted'; subject: string; version: number }
  /** `subject: null` is the global level; `compatibility: null` removes a subject's own level. */
  | { type: 'config'; subject: string | null; compatibility: CompatibilityLevel | null };

/** Where the events go. `append` returns only once the event is durable (or throws). */
export interface RegistryLog {
  /** Events found when the log was opened, oldest first. */
  readonly replay: readonly RegistryEvent[];
  append(event: RegistryEvent): void;
  close(): void;
}

/** The file inside the data directory; one JSON event per line. */
export const LOG_FILE_NAME = 'schema-registry.jsonl';

/** A log that keeps nothing: for the in-memory registry. */
export function openMemoryLog(): RegistryLog {
  return { replay: [], append: () => undefined, close: () => undefined };
}

/**
 * Open (or create) the JSON-lines log in `dataDir`. Writes are synchronous and fdatasync'ed: registry
 * writes are rare, and a synchronous append keeps "persist, then apply" free of interleaving.
 * A torn last line (crash mid-write) is cut off so later appends start on a clean line; a corrupt
 * line anywhere else is an error, because silently skipping it would renumber ids.
 */
export function openFileLog(dataDir: string): RegistryLog {
  mkdirSync(dataDir, { recursive: true });
  const unlock = lockDataDir(dataDir, LOCK_FILE_NAME, 'schema registry');
  const path = join(dataDir, LOG_FILE_NAME);
  let fd: number | undefined;
  try {
    fd = openSync(path, 'a+');
    const content = readFileSync(fd, 'utf8');
    const { events, validLength } = parseLog(content, path);
    if (validLength < Buffer.byteLength(content)) ftruncateSync(fd, validLength);
    const logFd = fd;
    let length = validLength;
    return {
      replay: events,
      append(event) {
        // A failed write or sync is cut off again: a partial line glued to the next event would
        // be a corrupt line, which stops the registry from starting, and an event left on disk
        // but not applied would hand out its id twice.
        length = appendWhole(logFd, Buffer.from(`${JSON.stringify(event)}\n`, 'utf8'), length, true);
      },
      close() {
        closeSync(logFd);
        unlock();
      },
    };
  } catch (err) {
    if (fd !== undefined) closeSync(fd);
    unlock();
    throw err;
  }
}

function parseLog(content: string, path: string): { events: RegistryEvent[]; validLength: number } {
  const events: RegistryEvent[] = [];
  let offset = 0;
  let lineNumber = 0;
  while (offset < content.length) {
    const end = content.indexOf('\n', offset);
    lineNumber += 1;
    if (end === -1) break; // torn tail: never completed, so never acknowledged to a client
    const line = content.slice(offset, end);
    if (line.trim() !== '') {
      try {
        events.push(JSON.parse(line) as RegistryEvent);
      } catch (err) {
        throw new Error(`${path}:${lineNumber}: corrupt registry log line`, { cause: err });
      }
    }
    offset = end + 1;
  }
  return { events, validLength: Buffer.byteLength(content.slice(0, offset)) };
}
