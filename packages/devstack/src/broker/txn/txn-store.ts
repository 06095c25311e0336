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
 * replaces `<dataDir>/transactions.json` atomically (temp file, rename) before {@link put}
 * returns, so a restarted broker still fences old epochs and still knows which partitions an
 * unfinished transaction touched. The file holds one small entry per transactional id, so
 * rewriting it whole stays cheap.
 *
 * It is forced to disk (fsync of the file and the directory) only when `durable` (the broker's
 * `fsync: 'always'`), like the log segments and the markers it describes: a transaction changes
 * this state four times (its first AddPartitionsToTxn and AddOffsetsToTxn, prepare, complete), and
 * at ~10 ms per fsync'ed replacement that was ~40 ms of a blocked broker per transaction, a cost
 * Kafka's `__transaction_state` (an ordinary log, flushed by the OS) does not have.
 */
export class TxnStore {
  private readonly entries = new Map<string, TxnMetadata>();

  private constructor(
    private readonly path: string | null,
    private readonly durable: boolean,
  ) {}

  /** Loads the state of `dataDir`, or starts empty in memory when it is null. */
  static open(dataDir: string | null, options: { durable?: boolean } = {}): TxnStore {
    const store = new TxnStore(dataDir === null ? null : join(dataDir, FILE), options.durable ?? false);
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
      writeJsonAtomic(this.path, { transactions: [...next.values()] } satisfies TxnFile, { durable: this.durable });
    }
    this.entries.set(meta.transactionalId, meta);
  }
}
