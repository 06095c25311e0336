import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KafkaProtocolError } from '../../src/broker/protocol/errors.js';
import { readRequestHeaderPrefix, readRequestHeaderRest, writeResponseHeader } from '../../src/broker/protocol/header.js';
import { Reader } from '../../src/broker/protocol/reader.js';
import { Writer } from '../../src/broker/protocol/writer.js';

describe('Reader/Writer', () => {
  it('round-trips every primitive, nullable and compact variant', () => {
    const big = Buffer.alloc(2000, 7);
    const w = new Writer(4)
      .writeInt8(-5)
      .writeBoolean(true)
      .writeInt16(-32768)
      .writeInt32(2147483647)
      .writeUInt32(0xfffffffe)
      .writeInt64(-9007199254740991)
      .writeInt64(-2n)
      .writeUnsignedVarInt(300)
      .writeVarInt(-1)
      .writeVarLong(-1_700_000_000_000)
      .writeString('héllo')
      .writeNullableString(null)
      .writeCompactString('abc')
      .writeCompactNullableString(null)
      .writeBytes(Buffer.from([1, 2]))
      .writeNullableBytes(null)
      .writeBytes(big)
      .writeCompactBytes(Buffer.from([9]))
      .writeCompactNullableBytes(null)
      .writeArray([1, 2, 3], (x, v) => x.writeInt32(v))
      .writeNullableArray(null, (x, v: number) => x.writeInt32(v))
      .writeCompactArray(['x'], (x, v) => x.writeCompactString(v))
      .writeCompactNullableArray(null, (x, v: string) => x.writeCompactString(v))
      .writeEmptyTaggedFields();
    const buf = w.toBuffer();
    expect(buf.length).toBe(w.length);
    const r = new Reader(buf);
    expect(r.readInt8()).toBe(-5);
    expect(r.readBoolean()).toBe(true);
    expect(r.readInt16()).toBe(-32768);
    expect(r.readInt32()).toBe(2147483647);
    expect(r.readUInt32()).toBe(0xfffffffe);
    expect(r.readInt64Number()).toBe(-9007199254740991);
    expect(r.readInt64()).toBe(-2n);
    expect(r.readUnsignedVarInt()).toBe(300);
    expect(r.readVarInt()).toBe(-1);
    expect(r.readVarLong()).toBe(-1_700_000_000_000);
    expect(r.readString()).toBe('héllo');
    expect(r.readNullableString()).toBeNull();
    expect(r.readCompactString()).toBe('abc');
    expect(r.readCompactNullableString()).toBeNull();
    expect([...r.readBytes()]).toEqual([1, 2]);
    expect(r.readNullableBytes()).toBeNull();
    expect(r.readBytes().equals(big)).toBe(true);
    expect([...r.readCompactBytes()]).toEqual([9]);
    expect(r.readCompactNullableBytes()).toBeNull();
    expect(r.readArray((x) => x.readInt32())).toEqual([1, 2, 3]);
    expect(r.readNullableArray((x) => x.readInt32())).toBeNull();
    expect(r.readCompactArray((x) => x.readCompactString())).toEqual(['x']);
    expect(r.readCompactNullableArray((x) => x.readCompactString())).toBeNull();
    expect(r.readTaggedFields().size).toBe(0);
    expect(r.remaining).toBe(0);
  });

  it('encodes varints as the protocol guide specifies (zig-zag, LEB128)', () => {
    expect([...new Writer().writeVarInt(0).toBuffer()]).toEqual([0]);
    expect([...new Writer().writeVarInt(-1).toBuffer()]).toEqual([1]);
    expect([...new Writer().writeVarInt(1).toBuffer()]).toEqual([2]);
    expect([...new Writer().writeVarInt(-64).toBuffer()]).toEqual([0x7f]);
    expect([...new Writer().writeVarInt(64).toBuffer()]).toEqual([0x80, 0x01]);
    expect([...new Writer().writeUnsignedVarInt(0xffffffff).toBuffer()]).toEqual([0xff, 0xff, 0xff, 0xff, 0x0f]);
  });

  it('round-trips arbitrary varints, varlongs and int64s', () => {
    fc.assert(
      fc.property(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), fc.integer({ min: -(2 ** 52 - 1), max: 2 ** 52 - 1 }), fc.maxSafeInteger(), (i, l, q) => {
        const r = new Reader(new Writer().writeVarInt(i).writeVarLong(l).writeInt64(q).toBuffer());
        expect(r.readVarInt()).toBe(i);
        expect(r.readVarLong()).toBe(l);
        expect(r.readInt64Number()).toBe(q);
      }),
    );
  });

  it('reads tagged fields it does not know', () => {
    const w = new Writer().writeUnsignedVarInt(2);
    w.writeUnsignedVarInt(0).writeUnsignedVarInt(2).writeRaw(Buffer.from([1, 2]));
    w.writeUnsignedVarInt(5).writeUnsignedVarInt(0);
    const fields = new Reader(w.toBuffer()).readTaggedFields();
    expect([...fields.keys()]).toEqual([0, 5]);
    expect([...(fields.get(0) ?? [])]).toEqual([1, 2]);
  });

  it('throws KafkaProtocolError on every truncation of a valid message', () => {
    const buf = new Writer().writeInt32(1).writeString('topic').writeArray([1, 2], (x, v) => x.writeInt64(v)).toBuffer();
    const parse = (b: Buffer): unknown => {
      const r = new Reader(b);
      return [r.readInt32(), r.readString(), r.readArray((x) => x.readInt64Number())];
    };
    expect(parse(buf)).toEqual([1, 'topic', [1, 2]]);
    for (let len = 0; len < buf.length; len++) {
      expect(() => parse(buf.subarray(0, len))).toThrow(KafkaProtocolError);
    }
  });

  it('rejects impossible lengths and counts instead of allocating for them', () => {
    expect(() => new Reader(new Writer().writeInt32(1_000_000_000).toBuffer()).readArray((r) => r.readInt8())).toThrow(KafkaProtocolError);
    expect(() => new Reader(new Writer().writeInt32(-7).toBuffer()).readNullableBytes()).toThrow(KafkaProtocolError);
    expect(() => new Reader(new Writer().writeInt16(-1).toBuffer()).readString()).toThrow(KafkaProtocolError);
    expect(() => new Reader(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0x01])).readUnsignedVarInt()).toThrow(KafkaProtocolError);
  });

  it('never throws anything but KafkaProtocolError on random input', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        const r = new Reader(Buffer.from(bytes));
        try {
          r.readArray((x) => ({ s: x.readCompactNullableString(), b: x.readNullableBytes(), v: x.readVarLong() }));
          r.readTaggedFields();
        } catch (err) {
          expect(err).toBeInstanceOf(KafkaProtocolError);
        }
      }),
    );
  });
});

describe('headers', () => {
  it('parses a request header v2 as librdkafka sends ApiVersions v3 (WIRE-FACTS.md §2.1)', () => {
    const hex = (t: string): string => Buffer.from(t).toString('hex');
    const frame = Buffer.from(
      `0012000300000001000b${hex('wire-kcat-G')}00` + `0b${hex('librdkafka')}06${hex('2.0.2')}00`,
      'hex',
    );
    expect(frame.length).toBe(40);
    const r = new Reader(frame);
    expect(readRequestHeaderPrefix(r)).toEqual({ apiKey: 18, apiVersion: 3, correlationId: 1 });
    expect(readRequestHeaderRest(r, true)).toEqual({ clientId: 'wire-kcat-G' });
    expect(r.readCompactString()).toBe('librdkafka');
    expect(r.readCompactString()).toBe('2.0.2');
    expect(r.readTaggedFields().size).toBe(0);
    expect(r.remaining).toBe(0);
  });

  it('writes response header v0 and v1', () => {
    expect([...writeResponseHeader(7, 0)]).toEqual([0, 0, 0, 7]);
    expect([...writeResponseHeader(7, 1)]).toEqual([0, 0, 0, 7, 0]);
  });
});
