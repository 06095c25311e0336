import { KafkaProtocolError } from './errors.js';

const TWO_POW_32 = 0x1_0000_0000;

/**
 * Reads Kafka primitive types (https://kafka.apache.org/protocol#protocol_types) from a buffer,
 * front to back. Every read checks bounds first and throws {@link KafkaProtocolError} on
 * truncated or impossible input, so a handler can parse straight through without its own checks.
 *
 * Byte fields come back as views into the frame (`subarray`), not copies: callers that keep them
 * beyond the request (the log does) own that decision.
 */
export class Reader {
  private pos: number;
  private readonly end: number;

  constructor(
    readonly buffer: Buffer,
    start = 0,
    end = buffer.length,
  ) {
    this.pos = start;
    this.end = end;
  }

  /** Current read position, as an index into {@link buffer}. */
  get offset(): number {
    return this.pos;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  private need(n: number, what: string): void {
    if (n < 0 || this.pos + n > this.end) {
      throw new KafkaProtocolError(`truncated ${what}: need ${n} bytes at ${this.pos}, have ${this.end - this.pos}`);
    }
  }

  skip(n: number): void {
    this.need(n, 'skip');
    this.pos += n;
  }

  readInt8(): number {
    this.need(1, 'int8');
    return this.buffer.readInt8(this.pos++);
  }

  readBoolean(): boolean {
    return this.readInt8() !== 0;
  }

  readInt16(): number {
    this.need(2, 'int16');
    const v = this.buffer.readInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  readInt32(): number {
    this.need(4, 'int32');
    const v = this.buffer.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  readUInt32(): number {
    this.need(4, 'uint32');
    const v = this.buffer.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  readInt64(): bigint {
    this.need(8, 'int64');
    const v = this.buffer.readBigInt64BE(this.pos);
    this.pos += 8;
    return v;
  }

  /**
   * An int64 as a JS number. Offsets, timestamps and producer ids stay far below 2^53 in practice;
   * a value outside the safe range is treated as malformed rather than silently rounded.
   */
  readInt64Number(): number {
    this.need(8, 'int64');
    const hi = this.buffer.readInt32BE(this.pos);
    const lo = this.buffer.readUInt32BE(this.pos + 4);
    this.pos += 8;
    const v = hi * TWO_POW_32 + lo;
    if (!Number.isSafeInteger(v)) throw new KafkaProtocolError(`int64 ${v} outside the safe integer range`);
    return v;
  }

  /** Unsigned LEB128 up to 32 bits (lengths and counts in flexible versions). */
  readUnsignedVarInt(): number {
    let result = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      this.need(1, 'varint');
      const b = this.buffer[this.pos++] as number;
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) {
        if (result > 0xffff_ffff) throw new KafkaProtocolError('unsigned varint exceeds 32 bits');
        return result;
      }
    }
    throw new KafkaProtocolError('unsigned varint longer than 5 bytes');
  }

  /** Zig-zag signed varint (record fields). */
  readVarInt(): number {
    const raw = this.readUnsignedVarInt();
    return raw % 2 === 0 ? raw / 2 : -(raw + 1) / 2;
  }

  /**
   * Zig-zag signed varlong as a JS number. Magnitudes up to 2^52 (the zig-zag form must stay a
   * safe integer) cover record timestamp deltas; anything larger is treated as malformed.
   */
  readVarLong(): number {
    let raw = 0;
    for (let shift = 0; shift < 70; shift += 7) {
      this.need(1, 'varlong');
      const b = this.buffer[this.pos++] as number;
      raw += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) {
        if (!Number.isSafeInteger(raw)) throw new KafkaProtocolError('varlong outside the safe integer range');
        return raw % 2 === 0 ? raw / 2 : -(raw + 1) / 2;
      }
    }
    throw new KafkaProtocolError('varlong longer than 10 bytes');
  }

  private readUtf8(len: number, what: string): string {
    this.need(len, what);
    const s = this.buffer.toString('utf8', this.pos, this.pos + len);
    this.pos += len;
    return s;
  }

  private readSlice(len: number, what: string): Buffer {
    this.need(len, what);
    const b = this.buffer.subarray(this.pos, this.pos + len);
    this.pos += len;
    return b;
  }

  readString(): string {
    const len = this.readInt16();
    if (len < 0) throw new KafkaProtocolError('null where a non-nullable string is required');
    return this.readUtf8(len, 'string');
  }

  readNullableString(): string | null {
    const len = this.readInt16();
    if (len < -1) throw new KafkaProtocolError(`invalid string length ${len}`);
    return len === -1 ? null : this.readUtf8(len, 'string');
  }

  readCompactString(): string {
    const len = this.readUnsignedVarInt() - 1;
    if (len < 0) throw new KafkaProtocolError('null where a non-nullable compact string is required');
    return this.readUtf8(len, 'compact string');
  }

  readCompactNullableString(): string | null {
    const len = this.readUnsignedVarInt() - 1;
    return len === -1 ? null : this.readUtf8(len, 'compact string');
  }

  readBytes(): Buffer {
    const len = this.readInt32();
    if (len < 0) throw new KafkaProtocolError('null where non-nullable bytes are required');
    return this.readSlice(len, 'bytes');
  }

  readNullableBytes(): Buffer | null {
    const len = this.readInt32();
    if (len < -1) throw new KafkaProtocolError(`invalid bytes length ${len}`);
    return len === -1 ? null : this.readSlice(len, 'bytes');
  }

  readCompactBytes(): Buffer {
    const len = this.readUnsignedVarInt() - 1;
    if (len < 0) throw new KafkaProtocolError('null where non-nullable compact bytes are required');
    return this.readSlice(len, 'compact bytes');
  }

  readCompactNullableBytes(): Buffer | null {
    const len = this.readUnsignedVarInt() - 1;
    return len === -1 ? null : this.readSlice(len, 'compact bytes');
  }

  /** Raw bytes of a known length (record keys/values, whose lengths are varints). */
  readRaw(len: number): Buffer {
    return this.readSlice(len, 'raw bytes');
  }

  private checkCount(count: number, what: string): void {
    // Every array element is at least one byte on the wire; a larger count is garbage and must not
    // make us allocate or loop for it.
    if (count > this.remaining) throw new KafkaProtocolError(`${what} count ${count} exceeds the ${this.remaining} bytes left`);
  }

  readArray<T>(readItem: (r: Reader) => T): T[] {
    const count = this.readInt32();
    if (count < 0) throw new KafkaProtocolError('null where a non-nullable array is required');
    return this.readItems(count, readItem, 'array');
  }

  readNullableArray<T>(readItem: (r: Reader) => T): T[] | null {
    const count = this.readInt32();
    if (count < -1) throw new KafkaProtocolError(`invalid array length ${count}`);
    return count === -1 ? null : this.readItems(count, readItem, 'array');
  }

  readCompactArray<T>(readItem: (r: Reader) => T): T[] {
    const count = this.readUnsignedVarInt() - 1;
    if (count < 0) throw new KafkaProtocolError('null where a non-nullable compact array is required');
    return this.readItems(count, readItem, 'compact array');
  }

  readCompactNullableArray<T>(readItem: (r: Reader) => T): T[] | null {
    const count = this.readUnsignedVarInt() - 1;
    return count === -1 ? null : this.readItems(count, readItem, 'compact array');
  }

  private readItems<T>(count: number, readItem: (r: Reader) => T, what: string): T[] {
    this.checkCount(count, what);
    const out = new Array<T>(count);
    for (let i = 0; i < count; i++) out[i] = readItem(this);
    return out;
  }

  /**
   * Tagged fields (KIP-482) at the end of a flexible struct or header. This broker knows no tags,
   * so they are skipped and returned for whoever cares, keyed by tag number.
   */
  readTaggedFields(): Map<number, Buffer> {
    const count = this.readUnsignedVarInt();
    this.checkCount(count, 'tagged field');
    const fields = new Map<number, Buffer>();
    for (let i = 0; i < count; i++) {
      const tag = this.readUnsignedVarInt();
      const size = this.readUnsignedVarInt();
      fields.set(tag, this.readSlice(size, 'tagged field'));
    }
    return fields;
  }
}
