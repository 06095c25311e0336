import avro from 'avsc';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadContract, type ContractName } from '../../src/pipeline/decode-schemas.js';
import { createJsonSignalEncoder } from '../../src/pipeline/signal-encoder.js';
import { MemoryPartition } from '../engine/memory-partition.js';
import { buildCalls, buildRecords, POLICIES, signalScenario } from '../engine/scenarios.js';

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

const contracts: ContractName[] = ['transaction-v1', 'transaction-v2', 'transaction-v3', 'balance-v1', 'tier-change-v1', 'tier-change-v2', 'signal-v1'];

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

  it('transaction v3 is backward compatible: a v3 reader resolves v1 and v2 data, profitMinor defaults to null', () => {
    const [v1, v2, v3] = (['transaction-v1', 'transaction-v2', 'transaction-v3'] as const).map((name) => avro.Type.forSchema(JSON.parse(loadContract(name)) as avro.Schema)) as [avro.Type, avro.Type, avro.Type];
    const record = { transactionId: 't', customerId: 'c', kind: 'PURCHASE', amountMinor: 1, currency: 'EUR', eventTime: 0 };
    expect({ ...v3.fromBuffer(v1.toBuffer(record), v3.createResolver(v1)) }).toEqual({ ...record, channel: null, merchantCategory: null, profitMinor: null });
    const withChannel = { ...record, channel: 'POS', merchantCategory: '5411' };
    expect({ ...v3.fromBuffer(v2.toBuffer(withChannel), v3.createResolver(v2)) }).toEqual({ ...withChannel, profitMinor: null });
    expect({ ...v3.fromBuffer(v3.toBuffer({ ...withChannel, profitMinor: -522 })) }).toEqual({ ...withChannel, profitMinor: -522 });
  });

  it('the TierChange contract carries exactly what the state engine writes', () => {
    const [tierChange] = recordsIn(JSON.parse(loadContract('tier-change-v2')));
    expect(tierChange?.fields.map((f) => f.name)).toEqual([
      'eventId', 'customerId', 'previousTier', 'newTier', 'direction', 'cause', 'transactionId',
      'effectiveAt', 'policyVersion', 'before', 'after', 'boundary', 'headroom',
      'previousPolicyVersion', 'relative',
    ]);
    const nested = Object.fromEntries(recordsIn(JSON.parse(loadContract('tier-change-v2'))).map((r) => [r.name, r.fields.map((f) => f.name)]));
    expect(nested).toMatchObject({
      RfmSnapshot: ['monetary', 'frequency', 'recencyMs', 'lastPurchaseAt', 'averageDailyBalance', 'profit'],
      TierBoundary: ['tier', 'rule'],
      TierHeadroom: ['toNextTierUp', 'toDowngrade', 'averageDailyBalanceToNextTierUp', 'averageDailyBalanceToDowngrade'],
    });
  });

  it('tier-change v2 adds previousPolicyVersion, the relative block, the balance and profit snapshot and headroom fields (each with a default) and the cause BALANCE: BACKWARD compatible, not FORWARD', () => {
    const v1 = avro.Type.forSchema(JSON.parse(loadContract('tier-change-v1')) as avro.Schema);
    const v2 = avro.Type.forSchema(JSON.parse(loadContract('tier-change-v2')) as avro.Schema);
    const [v1Top] = recordsIn(JSON.parse(loadContract('tier-change-v1')));
    const [v2Top] = recordsIn(JSON.parse(loadContract('tier-change-v2')));
    expect(v2Top?.fields.map((f) => f.name)).toEqual([...(v1Top?.fields.map((f) => f.name) ?? []), 'previousPolicyVersion', 'relative']);
    expect(v2Top?.fields.at(-2)).toMatchObject({ type: ['null', 'string'], default: null });
    expect(v2Top?.fields.at(-1)).toMatchObject({ default: null });
    const old = {
      eventId: 'c:1', customerId: 'c', previousTier: null, newTier: 'vip', direction: 'NEW', cause: 'TRANSACTION', transactionId: 't', effectiveAt: 1, policyVersion: 'p1',
      before: { monetary: 0, frequency: 0, recencyMs: null, lastPurchaseAt: null }, after: { monetary: 5, frequency: 1, recencyMs: 0, lastPurchaseAt: 1 },
      boundary: { tier: 'vip', rule: 'r' }, headroom: { toNextTierUp: null, toDowngrade: null },
    };
    // A v2 reader of a v1 record: the defaults.
    expect(v2.fromBuffer(v1.toBuffer(old), v2.createResolver(v1))).toMatchObject({
      ...old,
      before: { ...old.before, averageDailyBalance: 0, profit: 0 },
      after: { ...old.after, averageDailyBalance: 0, profit: 0 },
      headroom: { ...old.headroom, averageDailyBalanceToNextTierUp: null, averageDailyBalanceToDowngrade: null },
      previousPolicyVersion: null,
    });
    // A reader pinned to v1 cannot resolve v2: its cause enum lacks BALANCE (schemas/README.md says
    // to upgrade readers first).
    expect(() => v1.createResolver(v2)).toThrow(/TierChangeCause/);
  });

  it.each([
    ['transaction.schema.json', 'transaction-v3'],
    ['balance.schema.json', 'balance-v1'],
    ['tier-change.schema.json', 'tier-change-v2'],
    ['signal.schema.json', 'signal-v1'],
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

describe('the Signal contract', () => {
  it('carries exactly what the engine emits', () => {
    const [signal] = recordsIn(JSON.parse(loadContract('signal-v1')));
    expect(signal?.fields.map((f) => f.name)).toEqual([
      'signalId', 'customerId', 'type', 'tier', 'targetTier', 'cause', 'transactionId', 'effectiveAt',
      'policyVersion', 'rfm', 'spendToUpgrade', 'takesEffectAt', 'spendToStay',
    ]);
  });

  it('holds every signal the engine emits, in Avro and in its JSON form, and refuses a type outside it', () => {
    const type = avro.Type.forSchema(JSON.parse(loadContract('signal-v1')) as avro.Schema);
    const json = createJsonSignalEncoder();
    const types = new Set<string>();
    for (const s of fc.sample(signalScenario, { numRuns: 300, seed: 7 })) {
      const policy = POLICIES[s.policy];
      if (policy?.signals === undefined) continue;
      const partition = new MemoryPartition(policy, 'event');
      for (const call of buildCalls(buildRecords(s), s)) partition.apply(call);
      for (const signal of partition.signals) {
        types.add(signal.type);
        expect(JSON.parse(JSON.stringify(type.fromBuffer(type.toBuffer(signal))))).toEqual(signal);
        expect(JSON.parse(json.encode(signal).toString())).toEqual(signal);
      }
    }
    expect([...types].sort()).toEqual(['DOWNGRADE_CANCELLED', 'DOWNGRADE_PENDING', 'NEAR_UPGRADE']);
    const any = { signalId: 'c:s:1', customerId: 'c', type: 'NEAR_UPGRADE', tier: 'a', targetTier: 'b', cause: 'TIME', transactionId: null, effectiveAt: 1, policyVersion: 'v', rfm: { monetary: 1, frequency: 1, recencyMs: null, lastPurchaseAt: null }, spendToUpgrade: 5, takesEffectAt: null, spendToStay: null };
    expect(type.isValid(any)).toBe(true);
    expect(type.isValid({ ...any, type: 'UPGRADE_SOON' })).toBe(false);
  });
});

describe('TierChange Avro encoding of the state engine record', () => {
  const type = avro.Type.forSchema(JSON.parse(loadContract('tier-change-v2')) as avro.Schema);
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
    previousPolicyVersion: null,
    before: { monetary: 1_800_000, frequency: 11, recencyMs: 86_400_000, lastPurchaseAt: 1_699_913_600_000, averageDailyBalance: 12_000_000, profit: 4_560_000 },
    after: { monetary: 2_000_000, frequency: 12, recencyMs: 0, lastPurchaseAt: 1_700_000_000_000, averageDailyBalance: 12_000_000, profit: -52_200 },
    boundary: { tier: 'major', rule: 'monetary > 19000.00 CNY' },
    headroom: { toNextTierUp: 3_890_001, toDowngrade: 99_999, averageDailyBalanceToNextTierUp: 18_000_000, averageDailyBalanceToDowngrade: null },
  };

  it('round-trips a change with plain values for the nullable fields', () => {
    // An absolute policy's change has no relative block: the contract reads it back as null.
    expect(JSON.parse(JSON.stringify(type.fromBuffer(type.toBuffer(change))))).toEqual({ ...change, relative: null });
  });

  it('accepts nulls where the semantics allow them (first classification, time-driven, no purchase, top tier)', () => {
    const first = {
      ...change,
      eventId: 'cust-1:1',
      previousTier: null,
      direction: 'NEW',
      cause: 'TIME',
      transactionId: null,
      before: { monetary: 0, frequency: 0, recencyMs: null, lastPurchaseAt: null, averageDailyBalance: 0, profit: 0 },
      headroom: { toNextTierUp: null, toDowngrade: null, averageDailyBalanceToNextTierUp: null, averageDailyBalanceToDowngrade: null },
    };
    expect(JSON.parse(JSON.stringify(type.fromBuffer(type.toBuffer(first))))).toEqual({ ...first, relative: null });
  });

  it('rejects a cause or direction outside the contract', () => {
    expect(type.isValid({ ...change, cause: 'MAGIC' })).toBe(false);
    expect(type.isValid({ ...change, direction: 'SIDEWAYS' })).toBe(false);
    expect(type.isValid({ ...change, cause: 'BALANCE', transactionId: null })).toBe(true);
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
