import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readSchemaFrame, writeSchemaFrame } from '../../src/kafka/wire-format.js';

describe('Schema Registry wire format', () => {
  it('round-trips any schema id and body', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.uint8Array({ maxLength: 64 }), (schemaId, body) => {
        const frame = readSchemaFrame(writeSchemaFrame(schemaId, Buffer.from(body)));
        expect(frame?.schemaId).toBe(schemaId);
        expect([...(frame?.payload ?? [])]).toEqual([...body]);
      }),
    );
  });

  it('lays out magic byte 0 and the id big-endian', () => {
    expect([...writeSchemaFrame(258, Buffer.from([9]))]).toEqual([0, 0, 0, 1, 2, 9]);
  });

  it('rejects values without the magic byte or shorter than the header', () => {
    expect(readSchemaFrame(Buffer.from('{"a":1}'))).toBeNull();
    expect(readSchemaFrame(Buffer.from([0, 0, 0]))).toBeNull();
  });
});
