import { gzipSync } from 'node:zlib';
import { Writer } from '../../src/broker/protocol/writer.js';
import { crc32c } from '../../src/broker/records/crc32c.js';

export interface FixtureRecord {
  key: string | null;
  value: string | null;
  timestampDelta?: number;
  headers?: Record<string, string>;
}

export interface FixtureBatchOptions {
  records: FixtureRecord[];
  firstTimestamp?: number;
  producerId?: number;
  producerEpoch?: number;
  baseSequence?: number;
  /** Attribute bits 0–2. Only none (0) and gzip (1) produce a real payload; others are labels. */
  codec?: number;
  attributesExtra?: number;
}

function varBytes(w: Writer, s: string | null): void {
  if (s === null) {
    w.writeVarInt(-1);
    return;
  }
  const b = Buffer.from(s);
  w.writeVarInt(b.length);
  w.writeRaw(b);
}

/**
 * Encodes a magic-2 record batch the way a producer does (base offset 0, CRC-32C filled in), for
 * tests that need batches without a client. Written independently of the broker's decoder.
 */
export function encodeBatch(opts: FixtureBatchOptions): Buffer {
  const records = new Writer();
  opts.records.forEach((r, i) => {
    const body = new Writer();
    body.writeInt8(0);
    body.writeVarLong(r.timestampDelta ?? 0);
    body.writeVarInt(i);
    varBytes(body, r.key);
    varBytes(body, r.value);
    const headers = Object.entries(r.headers ?? {});
    body.writeVarInt(headers.length);
    for (const [k, v] of headers) {
      varBytes(body, k);
      varBytes(body, v);
    }
    const bytes = body.toBuffer();
    records.writeVarInt(bytes.length);
    records.writeRaw(bytes);
  });
  const codec = opts.codec ?? 0;
  let payload = records.toBuffer();
  if (codec === 1) payload = gzipSync(payload);
  const first = opts.firstTimestamp ?? 1_700_000_000_000;
  const maxDelta = Math.max(0, ...opts.records.map((r) => r.timestampDelta ?? 0));
  const afterCrc = new Writer();
  afterCrc.writeInt16(codec | (opts.attributesExtra ?? 0));
  afterCrc.writeInt32(opts.records.length - 1);
  afterCrc.writeInt64(first);
  afterCrc.writeInt64(first + maxDelta);
  afterCrc.writeInt64(opts.producerId ?? -1);
  afterCrc.writeInt16(opts.producerEpoch ?? -1);
  afterCrc.writeInt32(opts.baseSequence ?? -1);
  afterCrc.writeInt32(opts.records.length);
  afterCrc.writeRaw(payload);
  const tail = afterCrc.toBuffer();
  const head = new Writer();
  head.writeInt64(0);
  head.writeInt32(4 + 1 + 4 + tail.length); // partitionLeaderEpoch + magic + crc + rest
  head.writeInt32(0);
  head.writeInt8(2);
  head.writeUInt32(crc32c(tail));
  return Buffer.concat([head.toBuffer(), tail]);
}
