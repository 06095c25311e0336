import avro from 'avsc';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadContract, type ContractName } from '../../src/pipeline/decode-schemas.js';

interface AvroField {
  name: string;
  type: unknown;
  doc?: string;
  default?: unknown;
}

function recordsIn(type: unknown, out: Array<{ name: string; doc?: string; fields: AvroField[] }> = []): typeof out {
  if (Array.isArray(type)) for (const branch of type) recordsIn(branch, out);
  else if (typeof type === 'object' && type !== null && (type as { type?: unknown }).type === 'record') {
    const record = type as { name: string; doc?: string; fields: AvroField[] };
    out.push(record);
    for (const field of record.fields) recordsIn(field.type, out);
  }
  return out;
}

const contracts: ContractName[] = ['transaction-v1', 'transaction-v2', 'tier-change-v1', 'tier-change-v2'];

function readJsonSchema(name: string): { properties: Record<string, { description?: string }>; $defs?: Record<string, { properties: Record<string, { description?: string }> }> } {
  return JSON.parse(readFileSync(new URL(`../../schemas/${name}`, import.meta.url), 'utf8'));
}

describe('schemas/ contracts', () => {
  it.each(contracts)('%s documents every record and field', (name) => {
    const records = recordsIn(JSON.parse(loadContract(name)));
    expect(records.length).toBeGreaterThan(0);
    for (const record of records) {
      expect(record.doc, record.name).toBeTruthy();
      for (const field of record.fields) expect(field.doc, `${record.name}.${field.name}`).toMatch(/\S{3}/);
    }
  });

  it('transaction v2 is backward compatible: a v2 reader resolves v1 data, new fields default to null', () => {
    const v1 = avro.Type.forSchema(JSON.parse(loadContract('transaction-v1')) as avro.Schema);
    const v2 = avro.Type.forSchema(JSON.parse(loadContract('transaction-v2')) as avro.Schema);
    const record = { transactionId: 't', customerId: 'c', kind: 'REFUND', amountMinor: 1, currency: 'EUR', eventTime: 0 };
    expect({ ...v2.fromBuffer(v1.toBuffer(record), v2.createResolver(v1)) }).toEqual({ ...record, channel: null, merchantCategory: null });
  });

  it('tier-change v2 adds only the relative block, with a default: a v2 reader resolves v1 data', () => {
    const v1 = avro.Type.forSchema(JSON.parse(loadContract('tier-change-v1')) as avro.Schema);
    const v2 = avro.Type.forSchema(JSON.parse(loadContract('tier-change-v2')) as avro.Schema);
    const [top1] = recordsIn(JSON.parse(loadContract('tier-change-v1')));
    const [top2] = recordsIn(JSON.parse(loadContract('tier-change-v2')));
    expect(top2?.fields.map((f) => f.name)).toEqual([...(top1?.fields.map((f) => f.name) ?? []), 'relative']);
    expect(v2.createResolver(v1)).toBeDefined();
  });

  it('the TierChange contract carries exactly what the state engine writes', () => {
    const [tierChange] = recordsIn(JSON.parse(loadContract('tier-change-v1')));
    expect(tierChange?.fields.map((f) => f.name)).toEqual([
      'eventId', 'customerId', 'previousTier', 'newTier', 'direction', 'cause', 'transactionId',
      'effectiveAt', 'policyVersion', 'before', 'after', 'boundary', 'headroom',
    ]);
    const nested = Object.fromEntries(recordsIn(JSON.parse(loadContract('tier-change-v1'))).map((r) => [r.name, r.fields.map((f) => f.name)]));
    expect(nested).toMatchObject({
      RfmSnapshot: ['monetary', 'frequency', 'recencyMs', 'lastPurchaseAt'],
      TierBoundary: ['tier', 'rule'],
      TierHeadroom: ['toNextTierUp', 'toDowngrade'],
    });
  });

  it.each([
    ['transaction.schema.json', 'transaction-v2'],
    ['tier-change.schema.json', 'tier-change-v2'],
  ] as const)('the JSON form %s has the same fields as %s, each described', (jsonName, avroName) => {
    const json = readJsonSchema(jsonName);
    const records = recordsIn(JSON.parse(loadContract(avroName)));
    const [top, ...nested] = records;
    expect(Object.keys(json.properties)).toEqual(top?.fields.map((f) => f.name));
    for (const property of Object.values(json.properties)) expect(property.description).toMatch(/\S{3}/);
    for (const record of nested) {
      const def = json.$defs?.[record.name];
      expect(Object.keys(def?.properties ?? {}), record.name).toEqual(record.fields.map((f) => f.name));
      for (const property of Object.values(def?.properties ?? {})) expect(property.description).toMatch(/\S{3}/);
    }
  });
});

describe('TierChange Avro encoding of the state engine record', () => {
  const type = avro.Type.forSchema(JSON.parse(loadContract('tier-change-v1')) as avro.Schema);
  const change = {
    eventId: 'cust-1:2',
    customerId: 'cust-1',
    previousTier: 'medium',
    newTier: 'major',
    direction: 'UP',
    cause: 'TRANSACTION',
    transactionId: 'tx-9',
    effectiveAt: 1_700_000_000_000,
    policyVersion: '2026-01',
    before: { monetary: 1_800_000, frequency: 11, recencyMs: 86_400_000, lastPurchaseAt: 1_699_913_600_000 },
    after: { monetary: 2_000_000, frequency: 12, recencyMs: 0, lastPurchaseAt: 1_700_000_000_000 },
    boundary: { tier: 'major', rule: 'monetary > 19000.00 CNY' },
    headroom: { toNextTierUp: 3_890_001, toDowngrade: 99_999 },
  };

  it('round-trips a change with plain values for the nullable fields', () => {
    expect(JSON.parse(JSON.stringify(type.fromBuffer(type.toBuffer(change))))).toEqual(change);
  });

  it('accepts nulls where the semantics allow them (first classification, time-driven, no purchase, top tier)', () => {
    const first = {
      ...change,
      eventId: 'cust-1:1',
      previousTier: null,
      direction: 'NEW',
      cause: 'TIME',
      transactionId: null,
      before: { monetary: 0, frequency: 0, recencyMs: null, lastPurchaseAt: null },
      headroom: { toNextTierUp: null, toDowngrade: null },
    };
    expect(JSON.parse(JSON.stringify(type.fromBuffer(type.toBuffer(first))))).toEqual(first);
  });

  it('rejects a cause or direction outside the contract', () => {
    expect(type.isValid({ ...change, cause: 'MAGIC' })).toBe(false);
    expect(type.isValid({ ...change, direction: 'SIDEWAYS' })).toBe(false);
  });
});

describe('schemas/README.md', () => {
  it('documents every field of every contract', () => {
    const readme = readFileSync(new URL('../../schemas/README.md', import.meta.url), 'utf8');
    for (const name of contracts) {
      for (const record of recordsIn(JSON.parse(loadContract(name)))) {
        for (const field of record.fields) expect(readme, `${name} ${record.name}.${field.name}`).toContain(`| \`${field.name}\` |`);
      }
    }
  });
});
