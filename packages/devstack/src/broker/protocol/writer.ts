const TWO_POW_32 = 0x1_0000_0000;

/**
 * Builds a Kafka message body (https://kafka.apache.org/protocol#protocol_types).
 *
 * Small fields go into a growing scratch buffer; large byte blobs (record batches in Fetch
 * responses) can be appended by reference with {@link appendRef}, so serving a fetch never copies
 * log data into an intermediate buffer. {@link toBuffers} returns the pieces for one `writev`.
 */
export class Writer {
  private buf: Buffer;
  private pos = 0;
  /** Finished pieces, in order; the scratch buffer's [0, pos) follows them. */
  private readonly chunks: Buffer[] = [];
  private chunkBytes = 0;

  constructor(initialSize = 256) {
    this.buf = Buffer.allocUnsafe(initialSize);
  }

  /** Total bytes written so far. */
  get length(): number {
    return this.chunkBytes + this.pos;
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n, 256));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  writeInt8(v: number): this {
    this.ensure(1);
    this.buf.writeInt8(v, this.pos);
    this.pos += 1;
    return this;
  }

  writeBoolean(v: boolean): this {
    return this.writeInt8(v ? 1 : 0);
  }

  writeInt16(v: number): this {
    this.ensure(2);
    this.buf.writeInt16BE(v, this.pos);
    this.pos += 2;
    return this;
  }

  writeInt32(v: number): this {
    this.ensure(4);
    this.buf.writeInt32BE(v, this.pos);
    this.pos += 4;
    return this;
  }

  writeUInt32(v: number): this {
    this.ensure(4);
    this.buf.writeUInt32BE(v, this.pos);
    this.pos += 4;
    return this;
  }

  /** An int64 given as a safe JS integer or a bigint. */
  writeInt64(v: number | bigint): this {
    this.ensure(8);
    if (typeof v === 'bigint') {
      this.buf.writeBigInt64BE(v, this.pos);
    } else {
      const hi = Math.floor(v / TWO_POW_32);
      this.buf.writeInt32BE(hi, this.pos);
      this.buf.writeUInt32BE(v - hi * TWO_POW_32, this.pos + 4);
    }
    this.pos += 8;
    return this;
  }

  writeUnsignedVarInt(v: number): this {
    this.ensure(5);
    let n = v >>> 0;
    while (n >= 0x80) {
      this.buf[this.pos++] = (n & 0x7f) | 0x80;
      n >>>= 7;
    }
    this.buf[this.pos++] = n;
    return this;
  }

  /** Zig-zag signed varint (32-bit range). */
  writeVarInt(v: number): this {
    return this.writeUnsignedVarInt(((v << 1) ^ (v >> 31)) >>> 0);
  }

  /** Zig-zag signed varlong for a safe JS integer. */
  writeVarLong(v: number): this {
    this.ensure(10);
    let n = v >= 0 ? v * 2 : -v * 2 - 1;
    while (n >= 0x80) {
      this.buf[this.pos++] = (n % 0x80) | 0x80;
      n = Math.floor(n / 0x80);
    }
    this.buf[this.pos++] = n;
    return this;
  }

  private writeUtf8(s: string, len: number): void {
    this.ensure(len);
    this.buf.write(s, this.pos, len, 'utf8');
    this.pos += len;
  }

  writeString(s: string): this {
    const len = Buffer.byteLength(s, 'utf8');
    this.writeInt16(len);
    this.writeUtf8(s, len);
    return this;
  }

  writeNullableString(s: string | null): this {
    return s === null ? this.writeInt16(-1) : this.writeString(s);
  }

  writeCompactString(s: string): this {
    const len = Buffer.byteLength(s, 'utf8');
    this.writeUnsignedVarInt(len + 1);
    this.writeUtf8(s, len);
    return this;
  }

  writeCompactNullableString(s: string | null): this {
    return s === null ? this.writeUnsignedVarInt(0) : this.writeCompactString(s);
  }

  /** Copies `b` into the scratch buffer. */
  writeRaw(b: Uint8Array): this {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
    return this;
  }

  /**
   * Appends `b` by reference, without copying. `b` must not change until the response is written;
   * the log's stored batches satisfy that (they are immutable once appended).
   */
  appendRef(b: Buffer): this {
    if (b.length < 512) return this.writeRaw(b);
    this.flushScratch();
    this.chunks.push(b);
    this.chunkBytes += b.length;
    return this;
  }

  private flushScratch(): void {
    if (this.pos === 0) return;
    this.chunks.push(this.buf.subarray(0, this.pos));
    this.chunkBytes += this.pos;
    // The flushed slice keeps the old memory; continue in a fresh scratch buffer.
    this.buf = Buffer.allocUnsafe(Math.max(256, this.buf.length - this.pos));
    this.pos = 0;
  }

  writeBytes(b: Buffer): this {
    this.writeInt32(b.length);
    return this.appendRef(b);
  }

  writeNullableBytes(b: Buffer | null): this {
    return b === null ? this.writeInt32(-1) : this.writeBytes(b);
  }

  writeCompactBytes(b: Buffer): this {
    this.writeUnsignedVarInt(b.length + 1);
    return this.appendRef(b);
  }

  writeCompactNullableBytes(b: Buffer | null): this {
    return b === null ? this.writeUnsignedVarInt(0) : this.writeCompactBytes(b);
  }

  writeArray<T>(items: readonly T[], writeItem: (w: Writer, item: T) => void): this {
    this.writeInt32(items.length);
    for (const item of items) writeItem(this, item);
    return this;
  }

  writeNullableArray<T>(items: readonly T[] | null, writeItem: (w: Writer, item: T) => void): this {
    return items === null ? this.writeInt32(-1) : this.writeArray(items, writeItem);
  }

  writeCompactArray<T>(items: readonly T[], writeItem: (w: Writer, item: T) => void): this {
    this.writeUnsignedVarInt(items.length + 1);
    for (const item of items) writeItem(this, item);
    return this;
  }

  writeCompactNullableArray<T>(items: readonly T[] | null, writeItem: (w: Writer, item: T) => void): this {
    if (items === null) return this.writeUnsignedVarInt(0);
    return this.writeCompactArray(items, writeItem);
  }

  /** An empty tagged-field section (KIP-482): this broker never sends tags. */
  writeEmptyTaggedFields(): this {
    return this.writeUnsignedVarInt(0);
  }

  /** The written bytes as pieces in order, ready for `socket.write` of each or a concat. */
  toBuffers(): Buffer[] {
    const out = this.chunks.slice();
    if (this.pos > 0) out.push(this.buf.subarray(0, this.pos));
    return out;
  }

  /** The written bytes as one buffer (copies when there are several pieces). */
  toBuffer(): Buffer {
    const parts = this.toBuffers();
    if (parts.length === 1) return parts[0] as Buffer;
    return Buffer.concat(parts, this.length);
  }
}
