import avro from 'avsc';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startSchemaRegistry, type SchemaRegistryHandle } from '@pyramid/devstack';
import { isPyramidError } from '../../src/errors.js';
import { createSchemaRegistryClient, type SchemaRegistryClient } from '../../src/kafka/schema-registry.js';
import { writeSchemaFrame } from '../../src/kafka/wire-format.js';
import { createDecoder } from '../../src/pipeline/decode.js';
import { loadContract, valueSubject } from '../../src/pipeline/decode-schemas.js';
import { freePort } from '../helpers/redis-server.js';
import { uniqueName } from '../helpers/unique.js';

const v1 = avro.Type.forSchema(JSON.parse(loadContract('transaction-v1')) as avro.Schema);
const v2 = avro.Type.forSchema(JSON.parse(loadContract('transaction-v2')) as avro.Schema);
const v3 = avro.Type.forSchema(JSON.parse(loadContract('transaction-v3')) as avro.Schema);
const balanceV1 = avro.Type.forSchema(JSON.parse(loadContract('balance-v1')) as avro.Schema);

const base = { transactionId: 't-1', customerId: 'c-1', kind: 'PURCHASE', amountMinor: 12_345, currency: 'CNY', eventTime: 1_700_000_000_000 };

let registry: SchemaRegistryHandle;
let client: SchemaRegistryClient;
let v1Id: number;
let v2Id: number;
let v3Id: number;
let balanceId: number;
let otherId: number;

beforeAll(async () => {
  registry = await startSchemaRegistry({ port: 0 });
  client = createSchemaRegistryClient({ url: registry.url });
  const subject = valueSubject(uniqueName('transactions'));
  v1Id = await client.registerAvro(subject, loadContract('transaction-v1'));
  // v2 is registered as the next version of the same subject: the registry's own BACKWARD check
  // is part of what this proves.
  v2Id = await client.registerAvro(subject, loadContract('transaction-v2'));
  v3Id = await client.registerAvro(subject, loadContract('transaction-v3'));
  balanceId = await client.registerAvro(valueSubject(uniqueName('balances')), loadContract('balance-v1'));
  otherId = await client.registerAvro(valueSubject(uniqueName('other')), JSON.stringify({ type: 'record', name: 'Payment', fields: [{ name: 'id', type: 'int' }] }));
});

afterAll(async () => {
  await registry?.close();
});

function avroDecoder() {
  return createDecoder({ format: 'avro', registry: client });
}

describe('Avro decoding through the registry', () => {
  it('resolves v1 and v2 records mixed in one batch to the reader shape (v3: profitMinor null)', async () => {
    const values = [
      writeSchemaFrame(v1Id, v1.toBuffer(base)),
      writeSchemaFrame(v2Id, v2.toBuffer({ ...base, transactionId: 't-2', channel: 'POS', merchantCategory: '5411' })),
      writeSchemaFrame(v1Id, v1.toBuffer({ ...base, transactionId: 't-3', kind: 'REFUND' })),
    ];
    const decoder = avroDecoder();
    await decoder.prepare(values);
    const decoded = values.map((value) => decoder.decode(value));
    expect(decoded.map((r) => (r.ok ? { ...(r.value as object) } : r.error))).toEqual([
      { ...base, channel: null, merchantCategory: null, profitMinor: null },
      { ...base, transactionId: 't-2', channel: 'POS', merchantCategory: '5411', profitMinor: null },
      { ...base, transactionId: 't-3', kind: 'REFUND', channel: null, merchantCategory: null, profitMinor: null },
    ]);
    expect(v1Id).not.toBe(v2Id);
  });

  it('decodes v3 records with their margin next to v1 and v2 ones (v3 registered as the next version of the subject)', async () => {
    const values = [writeSchemaFrame(v3Id, v3.toBuffer({ ...base, channel: null, merchantCategory: null, profitMinor: -522 })), writeSchemaFrame(v1Id, v1.toBuffer(base))];
    const decoder = avroDecoder();
    await decoder.prepare(values);
    expect(values.map((value) => decoder.decode(value)).map((r) => (r.ok ? (r.value as { profitMinor: unknown }).profitMinor : r.error))).toEqual([-522, null]);
  });

  it('decodes balance snapshots with the balance-v1 reader, and refuses a transaction written to the balances topic', async () => {
    const snapshot = { customerId: 'c-1', accountId: 'savings', balanceMinor: -5, currency: 'CNY', asOf: 1_700_000_000_000 };
    const values = [writeSchemaFrame(balanceId, balanceV1.toBuffer(snapshot)), writeSchemaFrame(v1Id, v1.toBuffer(base))];
    const decoder = createDecoder({ format: 'avro', registry: client, contract: 'balance-v1' });
    await decoder.prepare(values);
    const [good, bad] = values.map((value) => decoder.decode(value));
    expect(good).toEqual({ ok: true, value: expect.objectContaining(snapshot) });
    expect(bad?.ok === false && bad.error.reason).toBe('INCOMPATIBLE_SCHEMA');
  });

  it('asks the registry once per writer id, however many records and batches', async () => {
    const counting = { getSchemaById: vi.fn(client.getSchemaById), registerAvro: client.registerAvro };
    const decoder = createDecoder({ format: 'avro', registry: counting });
    const batch = Array.from({ length: 500 }, (_, i) =>
      i % 2 === 0 ? writeSchemaFrame(v1Id, v1.toBuffer({ ...base, transactionId: `t-${i}` })) : writeSchemaFrame(v2Id, v2.toBuffer({ ...base, transactionId: `t-${i}`, channel: null, merchantCategory: null })),
    );
    for (let round = 0; round < 3; round++) {
      await decoder.prepare(batch);
      for (const value of batch) expect(decoder.decode(value).ok).toBe(true);
    }
    expect(counting.getSchemaById).toHaveBeenCalledTimes(2);
    expect(decoder.registryLookups).toBe(2);
  });

  it('shares one look-up between concurrent prepares of the same id', async () => {
    const counting = { getSchemaById: vi.fn(client.getSchemaById), registerAvro: client.registerAvro };
    const decoder = createDecoder({ format: 'avro', registry: counting });
    const value = writeSchemaFrame(v1Id, v1.toBuffer(base));
    await Promise.all([decoder.prepare([value]), decoder.prepare([value]), decoder.prepare([value])]);
    expect(counting.getSchemaById).toHaveBeenCalledTimes(1);
  });

  it('refuses to decode an id that was never prepared: a loop bug must not dead-letter good records', () => {
    const decoder = avroDecoder();
    let thrown: unknown;
    try {
      decoder.decode(writeSchemaFrame(v1Id, v1.toBuffer(base)));
    } catch (err) {
      thrown = err;
    }
    expect(isPyramidError(thrown, 'DECODE_FAILED')).toBe(true);
  });

  it('classifies each kind of bad record', async () => {
    const good = v1.toBuffer(base);
    const cases = {
      EMPTY_VALUE: null,
      NO_MAGIC_BYTE: Buffer.from(JSON.stringify(base)),
      UNKNOWN_SCHEMA_ID: writeSchemaFrame(987_654, good),
      INCOMPATIBLE_SCHEMA: writeSchemaFrame(otherId, avro.Type.forSchema({ type: 'record', name: 'Payment', fields: [{ name: 'id', type: 'int' }] }).toBuffer({ id: 1 })),
      AVRO_DECODE_FAILED: writeSchemaFrame(v1Id, good.subarray(0, good.length - 3)),
    } as const;
    const decoder = avroDecoder();
    await decoder.prepare(Object.values(cases));
    for (const [reason, value] of Object.entries(cases)) {
      const result = decoder.decode(value);
      expect(result.ok ? 'ok' : result.error.reason, reason).toBe(reason);
    }
    const trailing = writeSchemaFrame(v1Id, Buffer.concat([good, Buffer.from([1, 2])]));
    const result = decoder.decode(trailing);
    expect(result.ok ? 'ok' : result.error.reason).toBe('AVRO_DECODE_FAILED');
  });

  it('never quotes record content in an error message', async () => {
    const decoder = avroDecoder();
    const secret = { ...base, customerId: 'customer-SECRET-4711' };
    const truncated = writeSchemaFrame(v1Id, v1.toBuffer(secret).subarray(0, 20));
    await decoder.prepare([truncated]);
    const result = decoder.decode(truncated);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error.message).not.toContain('SECRET');
  });

  it('fails prepare with a retriable error when the registry is down, so the batch is retried, not dead-lettered', async () => {
    const down = createDecoder({ format: 'avro', registry: createSchemaRegistryClient({ url: `http://127.0.0.1:${await freePort()}`, timeoutMs: 2_000 }) });
    const error = await down.prepare([writeSchemaFrame(v1Id, v1.toBuffer(base))]).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(isPyramidError(error, 'SCHEMA_REGISTRY_UNAVAILABLE')).toBe(true);
    expect(isPyramidError(error) && error.retriable).toBe(true);
  });
});

describe('JSON decoding', () => {
  const decoder = createDecoder({ format: 'json' });

  it('parses a JSON object', () => {
    expect(decoder.decode(Buffer.from(JSON.stringify(base)))).toEqual({ ok: true, value: base });
  });

  it('rejects malformed JSON without quoting it', () => {
    const result = decoder.decode(Buffer.from('{"customerId": SECRET-1}'));
    expect(result.ok ? 'ok' : result.error.reason).toBe('INVALID_JSON');
    if (!result.ok) expect(result.error.message).not.toContain('SECRET');
  });

  it('rejects JSON that is not an object, and tombstones', () => {
    for (const text of ['[1,2]', '42', 'null', '"x"']) {
      const result = decoder.decode(Buffer.from(text));
      expect(result.ok ? 'ok' : result.error.reason, text).toBe('INVALID_JSON');
    }
    const tombstone = decoder.decode(null);
    expect(tombstone.ok ? 'ok' : tombstone.error.reason).toBe('EMPTY_VALUE');
  });

  it('needs no registry', async () => {
    await expect(decoder.prepare([Buffer.from('{}')])).resolves.toBeUndefined();
    expect(decoder.registryLookups).toBe(0);
  });
});

it('Avro mode without a registry is a configuration error', () => {
  expect(() => createDecoder({ format: 'avro' })).toThrow(/PYRAMID_REGISTRY_URL/);
});
