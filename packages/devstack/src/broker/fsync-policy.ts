/**
 * When an acknowledged write is forced to disk. `'never'`: acknowledge once `write(2)` returned
 * (survives kill -9 of the broker, not a power cut). `'always'`: fdatasync touched partitions
 * before answering a Produce with acks != 0 (and the transaction coordinator its markers and
 * `transactions.json`), and the group coordinator fdatasyncs its offset log before answering an
 * OffsetCommit (plugins read it from `BrokerContext.fsync`).
 */
export type FsyncPolicy = 'never' | 'always';
