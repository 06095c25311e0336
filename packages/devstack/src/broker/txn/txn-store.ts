import { join } from 'node:path';
import { readJsonIfExists, writeJsonAtomic } from '../log/json-file.js';

/**
 * Transaction states as Kafka's TransactionCoordinator names them. `Prepare*` lasts only while the
 * markers are written (and across a crash in the middle, which recovery finishes); Kafka's
 * `Dead` and `PrepareEpochFence` are not needed: ids never expire here and a fence is one step.
 */
export type TxnState = 'Empty' | 'Ongoing' | 'PrepareCommit' | 'PrepareAbort' | 'CompleteCommit' | 'CompleteAbort';

/** What the coordinator keeps per transactional id (Kafka's TransactionMetadata). */
export interface TxnMetadata {
  readonly transactionalId: string;
  readonly producerId: number;
  readonly producerEpoch: number;
  readonly timeoutMs: number;
  readonly state: TxnState;
  /** Partitions added to the current transaction, as `[topic, partition]`. */
  readonly partitions: readonly (readonly [string, number])[];
  /** Consumer groups whose offsets the current transaction commits (AddOffsetsToTxn). */
  readonly groups: readonly string[];
  /** Wall-clock start of the current transaction (its first AddPartitions/AddOffsets), −1 when none. */
  readonly startedAtMs: number;
}

interface TxnFile {
  readonly transactions: readonly TxnMetadata[];
}

const FILE = 'transactions.json';

/**
 * The transaction coordinator's state, the embedded stand-in for `__transaction_state`: every
 * transactional id's producer id, epoch and transaction. With a data directory each change
 * replaces `<dataDir>/transactions.json` atomically (temp file, fsync, rename, directory fsync;
 * as `producer-ids.json`) before {@link put} returns, so a restarted broker still fences old
 * epochs and still knows which partitions an unfinished transaction touched. The file holds one
 * small entry per transactional id, so rewriting it whole stays cheap.
 */
export class TxnStore {
  private readonly entries = new Map<string, TxnMetadata>();

  private constructor(private readonly path: string | null) {}

  /** Loads the state of `dataDir`, or starts empty in memory when it is null. */
  static open(dataDir: string | null): TxnStore {
    const store = new TxnStore(dataDir === null ? null : join(dataDir, FILE));
    const file = store.path === null ? undefined : (readJsonIfExists(store.path) as TxnFile | undefined);
    for (const meta of file?.transactions ?? []) store.entries.set(meta.transactionalId, meta);
    return store;
  }

  get(transactionalId: string): TxnMetadata | undefined {
    return this.entries.get(transactionalId);
  }

  all(): TxnMetadata[] {
    return [...this.entries.values()];
  }

  /** Stores `meta`; persisted first, so memory never claims what the disk does not have. */
  put(meta: TxnMetadata): void {
    if (this.path !== null) {
      const next = new Map(this.entries).set(meta.transactionalId, meta);
      writeJsonAtomic(this.path, { transactions: [...next.values()] } satisfies TxnFile);
    }
    this.entries.set(meta.transactionalId, meta);
  }
}
