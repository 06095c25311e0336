import type { Reader } from './reader.js';
import type { Writer } from './writer.js';

/**
 * One element of the `topics` array that most partition-level messages share (Produce, Fetch,
 * ListOffsets, OffsetCommit, OffsetFetch): a topic name followed by an array of per-partition
 * entries, https://kafka.apache.org/protocol#protocol_messages.
 */
export interface TopicPartitions<P> {
  readonly name: string;
  readonly partitions: P[];
}

/**
 * Item reader for such a `topics` array, for `readArray` / `readNullableArray`: reads the name
 * and the partitions array, each element with `readPartition`, which holds the API's own fields.
 */
export function topicReader<P>(readPartition: (r: Reader) => P): (r: Reader) => TopicPartitions<P> {
  return (r) => ({ name: r.readString(), partitions: r.readArray(readPartition) });
}

/** Item writer for such a `topics` array, for `writeArray`; the mirror of {@link topicReader}. */
export function topicWriter<P>(writePartition: (w: Writer, p: P) => void): (w: Writer, t: { readonly name: string; readonly partitions: readonly P[] }) => void {
  return (w, t) => {
    w.writeString(t.name).writeArray(t.partitions, writePartition);
  };
}
