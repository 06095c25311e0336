import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startSchemaRegistry, type SchemaRegistryHandle } from '../../src/registry/index.js';
import { uniqueName } from '../helpers/unique.js';

const orderV1 = {
  type: 'record',
  name: 'Order',
  namespace: 'test.registry',
  fields: [
    { name: 'id', type: 'string' },
    { name: 'amount', type: 'double' },
  ],
};
/** v1 plus a field with a default: new readers can read v1 data (BACKWARD). */
const orderV2 = { ...orderV1, fields: [...orderV1.fields, { name: 'currency', type: 'string', default: 'CNY' }] };
/** v2 plus a field without a default: cannot read v1/v2 data. */
const orderV3 = { ...orderV2, fields: [...orderV2.fields, { name: 'channel', type: 'string' }] };

interface HttpAnswer {
  status: number;
  contentType: string | null;
  body: unknown;
}

async function http(base: string, method: string, path: string, body?: unknown, rawBody?: string): Promise<HttpAnswer> {
  const res = await fetch(base + path, {
    method,
    headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
    body: rawBody ?? (body === undefined ? undefined : JSON.stringify(body)),
  });
  const text = await res.text();
  return { status: res.status, contentType: res.headers.get('content-type'), body: text === '' ? undefined : (JSON.parse(text) as unknown) };
}

function newClient(registry: SchemaRegistryHandle): SchemaRegistry {
  // No retries: a wrong status must fail the test at once, not be retried into a pass.
  return new SchemaRegistry({ host: registry.url, retry: { retries: 0 } });
}

describe('schema registry with the kafkajs registry client', () => {
  let registry: SchemaRegistryHandle;
  beforeAll(async () => {
    registry = await startSchemaRegistry({ port: 0 });
  });
  afterAll(async () => {
    await registry.close();
  });

  it('registers, encodes and decodes; the same schema again keeps its id and version', async () => {
    const subject = uniqueName('orders-value');
    const client = newClient(registry);
    const { id } = await client.register({ type: 'AVRO' as never, schema: JSON.stringify(orderV1) }, { subject });
    const again = await client.register({ type: 'AVRO' as never, schema: JSON.stringify(orderV1) }, { subject });
    expect(again.id).toBe(id);
    expect((await http(registry.url, 'GET', `/subjects/${subject}/versions`)).body).toEqual([1]);
    // The client PUT its compatibility after the first registration, as with the real registry.
    expect((await http(registry.url, 'GET', `/config/${subject}`)).body).toEqual({ compatibilityLevel: 'BACKWARD' });

    const payload = await client.encode(id, { id: 'o-1', amount: 9.5 });
    expect(payload.subarray(0, 5)).toEqual(Buffer.from([0, 0, 0, 0, id]));
    expect(await client.decode(payload)).toEqual({ id: 'o-1', amount: 9.5 });
    // A fresh client knows nothing: it must fetch the schema by id.
    expect(await newClient(registry).decode(payload)).toEqual({ id: 'o-1', amount: 9.5 });
  });

  it('accepts a backward-compatible v2 and rejects an incompatible v3 with 409', async () => {
    const subject = uniqueName('orders-value');
    const client = newClient(registry);
    const v1 = await client.register({ type: 'AVRO' as never, schema: JSON.stringify(orderV1) }, { subject });
    const v2 = await client.register({ type: 'AVRO' as never, schema: JSON.stringify(orderV2) }, { subject });
    expect(v2.id).not.toBe(v1.id);
    await expect(client.register({ type: 'AVRO' as never, schema: JSON.stringify(orderV3) }, { subject })).rejects.toMatchObject({
      status: 409,
    });
    expect((await http(registry.url, 'GET', `/subjects/${subject}/versions`)).body).toEqual([1, 2]);

    expect(await client.getLatestSchemaId(subject)).toBe(v2.id);
    expect(await client.getRegistryIdBySchema(subject, { type: 'AVRO' as never, schema: JSON.stringify(orderV1) })).toBe(v1.id);
    // v1 data read with the v2 schema fills the default.
    const old = await client.encode(v1.id, { id: 'o-2', amount: 1 });
    expect(await newClient(registry).decode(old, { AVRO: { readerSchema: orderV2 as never } } as never)).toEqual({
      id: 'o-2',
      amount: 1,
      currency: 'CNY',
    });
  });

  it('gives one global id to the same schema under several subjects, whatever its whitespace or key order', async () => {
    const a = uniqueName('a-value');
    const b = uniqueName('b-value');
    const first = await http(registry.url, 'POST', `/subjects/${a}/versions`, { schema: JSON.stringify(orderV1) });
    const reordered = JSON.stringify({ fields: orderV1.fields, namespace: orderV1.namespace, name: 'Order', type: 'record' }, null, 2);
    const second = await http(registry.url, 'POST', `/subjects/${b}/versions`, { schema: reordered });
    expect(first.status).toBe(200);
    expect(second.body).toEqual(first.body);
    const { id } = first.body as { id: number };
    const users = (await http(registry.url, 'GET', `/schemas/ids/${id}/versions`)).body as { subject: string }[];
    expect(users.map((u) => u.subject)).toEqual(expect.arrayContaining([a, b]));
  });

  it('answers in the registry content type with the documented bodies', async () => {
    const subject = uniqueName('shape-value');
    const reg = await http(registry.url, 'POST', `/subjects/${subject}/versions`, { schema: JSON.stringify(orderV1) });
    expect(reg.contentType).toBe('application/vnd.schemaregistry.v1+json');
    const { id } = reg.body as { id: number };
    const latest = await http(registry.url, 'GET', `/subjects/${subject}/versions/latest`);
    expect(latest.body).toEqual({ subject, version: 1, id, schema: JSON.stringify(orderV1) });
    expect((await http(registry.url, 'GET', `/subjects/${subject}/versions/1/schema`)).body).toEqual(orderV1);
    expect((await http(registry.url, 'GET', `/schemas/ids/${id}`)).body).toEqual({ schema: JSON.stringify(orderV1) });
    expect((await http(registry.url, 'POST', `/subjects/${subject}`, { schema: JSON.stringify(orderV1) })).body).toEqual(latest.body);
    expect((await http(registry.url, 'GET', '/subjects')).body).toContain(subject);
  });

  it('takes both request forms a client may send for Avro: without schemaType (registries before 5.5) and with "AVRO"', async () => {
    const subject = uniqueName('forms-value');
    const bare = await http(registry.url, 'POST', `/subjects/${subject}/versions`, { schema: JSON.stringify(orderV1) });
    const typed = await http(registry.url, 'POST', `/subjects/${subject}/versions`, { schema: JSON.stringify(orderV1), schemaType: 'AVRO' });
    expect(bare.status).toBe(200);
    expect(typed.body).toEqual(bare.body);
    const v2 = await http(registry.url, 'POST', `/subjects/${subject}/versions`, { schema: JSON.stringify(orderV2), schemaType: 'AVRO' });
    expect(v2.status).toBe(200);
    expect((await http(registry.url, 'GET', `/subjects/${subject}/versions`)).body).toEqual([1, 2]);
    // Lookup under the subject takes both forms too.
    const found = await http(registry.url, 'POST', `/subjects/${subject}`, { schema: JSON.stringify(orderV1), schemaType: 'AVRO' });
    expect(found.body).toMatchObject({ subject, version: 1, ...(bare.body as object) });
    expect((await http(registry.url, 'POST', `/subjects/${subject}`, { schema: JSON.stringify(orderV2) })).body).toMatchObject({ version: 2 });
    // A type this Avro-only registry cannot check is refused, not stored as Avro.
    const json = await http(registry.url, 'POST', `/subjects/${subject}/versions`, { schema: '{"type":"object"}', schemaType: 'JSON' });
    expect(json).toMatchObject({ status: 422, body: { error_code: 42201 } });
  });
});

describe('compatibility levels', () => {
  let registry: SchemaRegistryHandle;
  beforeAll(async () => {
    registry = await startSchemaRegistry({ port: 0 });
  });
  afterAll(async () => {
    await registry.close();
  });

  const post = (subject: string, schema: object) =>
    http(registry.url, 'POST', `/subjects/${subject}/versions`, { schema: JSON.stringify(schema) });
  const withoutDefault = { ...orderV2, fields: [...orderV1.fields, { name: 'currency', type: 'string' }] };

  it('BACKWARD checks the latest version only, BACKWARD_TRANSITIVE every version', async () => {
    for (const [level, expected] of [
      ['BACKWARD', 200],
      ['BACKWARD_TRANSITIVE', 409],
    ] as const) {
      const subject = uniqueName('transitive-value');
      expect((await http(registry.url, 'PUT', `/config/${subject}`, { compatibility: level })).body).toEqual({ compatibility: level });
      expect((await post(subject, orderV1)).status).toBe(200);
      expect((await post(subject, orderV2)).status).toBe(200);
      // Reads v2 data (currency present) but not v1 data (currency missing, no default).
      expect((await post(subject, withoutDefault)).status).toBe(expected);
    }
  });

  it('FORWARD refuses to drop a field old readers need; NONE accepts anything', async () => {
    const dropped = { ...orderV1, fields: [orderV1.fields[0]] };
    const forward = uniqueName('forward-value');
    await http(registry.url, 'PUT', `/config/${forward}`, { compatibility: 'FORWARD' });
    await post(forward, orderV1);
    const refused = await post(forward, dropped);
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ error_code: 409 });

    const backward = uniqueName('backward-value');
    await post(backward, orderV1);
    expect((await post(backward, dropped)).status).toBe(200);

    const none = uniqueName('none-value');
    await http(registry.url, 'PUT', `/config/${none}`, { compatibility: 'none' });
    await post(none, orderV1);
    expect((await post(none, { type: 'string' })).status).toBe(200);
  });

  it('POST /compatibility answers is_compatible without registering anything', async () => {
    const subject = uniqueName('compat-value');
    await post(subject, orderV1);
    const ok = await http(registry.url, 'POST', `/compatibility/subjects/${subject}/versions/latest`, { schema: JSON.stringify(orderV2) });
    expect(ok.body).toEqual({ is_compatible: true });
    const bad = await http(registry.url, 'POST', `/compatibility/subjects/${subject}/versions/1?verbose=true`, {
      schema: JSON.stringify(orderV3),
    });
    expect(bad.body).toMatchObject({ is_compatible: false, messages: [expect.stringContaining('channel')] });
    expect((await http(registry.url, 'GET', `/subjects/${subject}/versions`)).body).toEqual([1]);
    const missing = await http(registry.url, 'POST', `/compatibility/subjects/${uniqueName('nope')}/versions/latest`, {
      schema: JSON.stringify(orderV1),
    });
    expect(missing.body).toMatchObject({ error_code: 40401 });
  });

  it('global and subject config: defaults, updates, the 404 the client relies on, deletes', async () => {
    const own = await startSchemaRegistry({ port: 0 });
    try {
      expect((await http(own.url, 'GET', '/config')).body).toEqual({ compatibilityLevel: 'BACKWARD' });
      expect((await http(own.url, 'PUT', '/config', { compatibility: 'FULL' })).body).toEqual({ compatibility: 'FULL' });
      expect((await http(own.url, 'GET', '/config')).body).toEqual({ compatibilityLevel: 'FULL' });

      const subject = uniqueName('config-value');
      const absent = await http(own.url, 'GET', `/config/${subject}`);
      expect(absent.status).toBe(404);
      expect(absent.body).toEqual({ error_code: 40401, message: 'Subject not found.' });
      await http(own.url, 'PUT', `/config/${subject}`, { compatibility: 'forward_transitive' });
      expect((await http(own.url, 'GET', `/config/${subject}`)).body).toEqual({ compatibilityLevel: 'FORWARD_TRANSITIVE' });
      expect((await http(own.url, 'DELETE', `/config/${subject}`)).body).toEqual({ compatibilityLevel: 'FORWARD_TRANSITIVE' });
      expect((await http(own.url, 'GET', `/config/${subject}`)).status).toBe(404);

      const invalid = await http(own.url, 'PUT', '/config', { compatibility: 'SIDEWAYS' });
      expect(invalid.status).toBe(422);
      expect(invalid.body).toMatchObject({ error_code: 42203 });
      // With a client-side level that differs from the subject's, the client refuses before POSTing.
      await http(own.url, 'PUT', `/config/${subject}`, { compatibility: 'NONE' });
      await expect(
        newClient(own).register({ type: 'AVRO' as never, schema: JSON.stringify(orderV1) }, { subject }),
      ).rejects.toThrow(/Compatibility does not match/);
    } finally {
      await own.close();
    }
  });
});

describe('deletes (soft)', () => {
  let registry: SchemaRegistryHandle;
  beforeAll(async () => {
    registry = await startSchemaRegistry({ port: 0 });
  });
  afterAll(async () => {
    await registry.close();
  });

  it('hides deleted versions from the subject but keeps their ids decodable, and never reuses a version number', async () => {
    const subject = uniqueName('delete-value');
    const { id: id1 } = (await http(registry.url, 'POST', `/subjects/${subject}/versions`, { schema: JSON.stringify(orderV1) })).body as { id: number };
    await http(registry.url, 'POST', `/subjects/${subject}/versions`, { schema: JSON.stringify(orderV2) });
    expect((await http(registry.url, 'DELETE', `/subjects/${subject}/versions/1`)).body).toBe(1);
    expect((await http(registry.url, 'GET', `/subjects/${subject}/versions`)).body).toEqual([2]);
    expect((await http(registry.url, 'GET', `/subjects/${subject}/versions/1`)).body).toMatchObject({ error_code: 40402 });
    expect((await http(registry.url, 'GET', `/subjects/${subject}/versions?deleted=true`)).body).toEqual([1, 2]);
    expect((await http(registry.url, 'GET', `/schemas/ids/${id1}`)).status).toBe(200);

    expect((await http(registry.url, 'DELETE', `/subjects/${subject}`)).body).toEqual([2]);
    expect((await http(registry.url, 'GET', '/subjects')).body).not.toContain(subject);
    expect((await http(registry.url, 'GET', `/subjects/${subject}/versions`)).body).toMatchObject({ error_code: 40401 });
    expect((await http(registry.url, 'DELETE', `/subjects/${subject}`)).body).toMatchObject({ error_code: 40401 });

    // Registering the old schema again brings the subject back with the next version number and the old id.
    expect((await http(registry.url, 'POST', `/subjects/${subject}/versions`, { schema: JSON.stringify(orderV1) })).body).toEqual({ id: id1 });
    expect((await http(registry.url, 'GET', `/subjects/${subject}/versions/latest`)).body).toMatchObject({ version: 3, id: id1 });
  });
});

describe('references', () => {
  it('resolves named types from referenced subjects', async () => {
    const registry = await startSchemaRegistry({ port: 0 });
    try {
      const addressSubject = uniqueName('address');
      const address = { type: 'record', name: 'Address', namespace: 'test.registry', fields: [{ name: 'city', type: 'string' }] };
      await http(registry.url, 'POST', `/subjects/${addressSubject}/versions`, { schema: JSON.stringify(address) });
      const customer = {
        type: 'record',
        name: 'Customer',
        namespace: 'test.registry',
        fields: [{ name: 'home', type: 'test.registry.Address' }],
      };
      const references = [{ name: 'test.registry.Address', subject: addressSubject, version: 1 }];
      const withoutRefs = await http(registry.url, 'POST', `/subjects/${uniqueName('customer')}/versions`, { schema: JSON.stringify(customer) });
      expect(withoutRefs.body).toMatchObject({ error_code: 42201 });
      const subject = uniqueName('customer');
      const reg = await http(registry.url, 'POST', `/subjects/${subject}/versions`, { schema: JSON.stringify(customer), references });
      expect(reg.status).toBe(200);
      const { id } = reg.body as { id: number };
      expect((await http(registry.url, 'GET', `/schemas/ids/${id}`)).body).toEqual({ schema: JSON.stringify(customer), references });
    } finally {
      await registry.close();
    }
  });
});

describe('persistence', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('keeps ids, versions, deletes and configs across a restart on the same data dir', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'pyramid-registry-'));
    dirs.push(dataDir);
    const subject = uniqueName('persist-value');
    const other = uniqueName('persist-other');

    const first = await startSchemaRegistry({ port: 0, dataDir });
    const client = newClient(first);
    const v1 = await client.register({ type: 'AVRO' as never, schema: JSON.stringify(orderV1) }, { subject });
    const v2 = await client.register({ type: 'AVRO' as never, schema: JSON.stringify(orderV2) }, { subject });
    const payload = await client.encode(v1.id, { id: 'o-9', amount: 3.25 });
    await http(first.url, 'PUT', '/config', { compatibility: 'FULL_TRANSITIVE' });
    await http(first.url, 'POST', `/subjects/${other}/versions`, { schema: JSON.stringify({ type: 'string' }) });
    await http(first.url, 'DELETE', `/subjects/${other}`);
    await first.close();

    const second = await startSchemaRegistry({ port: 0, dataDir });
    try {
      const fresh = newClient(second);
      expect(await fresh.decode(payload)).toEqual({ id: 'o-9', amount: 3.25 });
      expect(await fresh.getLatestSchemaId(subject)).toBe(v2.id);
      expect(await fresh.getRegistryIdBySchema(subject, { type: 'AVRO' as never, schema: JSON.stringify(orderV1) })).toBe(v1.id);
      expect((await http(second.url, 'GET', `/subjects/${subject}/versions`)).body).toEqual([1, 2]);
      expect((await http(second.url, 'GET', `/config/${subject}`)).body).toEqual({ compatibilityLevel: 'BACKWARD' });
      expect((await http(second.url, 'GET', '/config')).body).toEqual({ compatibilityLevel: 'FULL_TRANSITIVE' });
      expect((await http(second.url, 'GET', '/subjects')).body).not.toContain(other);
      // A new schema after the restart gets a new id, never one already handed out.
      const next = await http(second.url, 'POST', `/subjects/${uniqueName('after')}/versions`, { schema: JSON.stringify({ type: 'long' }) });
      const { id } = next.body as { id: number };
      expect([v1.id, v2.id]).not.toContain(id);
      expect(id).toBeGreaterThan(Math.max(v1.id, v2.id));
    } finally {
      await second.close();
    }
  });
});

describe('bad input', () => {
  let registry: SchemaRegistryHandle;
  beforeAll(async () => {
    registry = await startSchemaRegistry({ port: 0, maxBodyBytes: 16 * 1024 });
  });
  afterAll(async () => {
    await registry.close();
  });

  it('answers every malformed request with a Confluent error body and keeps serving', async () => {
    const subject = uniqueName('bad-value');
    const cases: [string, string, unknown, string | undefined, number, number][] = [
      ['POST', `/subjects/${subject}/versions`, undefined, '{"schema": ', 400, 400],
      ['POST', `/subjects/${subject}/versions`, { schema: '{"type": "record"' }, undefined, 422, 42201],
      ['POST', `/subjects/${subject}/versions`, { schema: JSON.stringify({ type: 'record', name: 'R', fields: [{ name: 'a', type: 'int', default: 'x' }] }) }, undefined, 422, 42201],
      ['POST', `/subjects/${subject}/versions`, { schema: JSON.stringify({ type: 'nosuchtype' }) }, undefined, 422, 42201],
      ['POST', `/subjects/${subject}/versions`, { schemaType: 'JSON', schema: '{"type":"object"}' }, undefined, 422, 42201],
      // Regression: nesting deeper than the stack was answered 500 and logged as an internal error.
      ['POST', `/subjects/${subject}/versions`, { schema: '['.repeat(7000) + ']'.repeat(7000) }, undefined, 422, 42201],
      ['POST', `/subjects/${subject}/versions`, {}, undefined, 422, 42201],
      ['POST', `/subjects/${subject}/versions`, [1, 2], undefined, 422, 422],
      ['POST', `/subjects/${subject}/versions`, { schema: 'x'.repeat(32 * 1024) }, undefined, 413, 413],
      ['PUT', '/config', { level: 'FULL' }, undefined, 422, 422],
      ['GET', `/subjects/${subject}/versions/abc`, undefined, undefined, 422, 42202],
      ['GET', `/subjects/${subject}/versions/latest`, undefined, undefined, 404, 40401],
      ['GET', '/schemas/ids/987654', undefined, undefined, 404, 40403],
      ['GET', '/schemas/ids/not-a-number', undefined, undefined, 404, 40403],
      ['GET', '/subjects/%E0%A4%A/versions', undefined, undefined, 400, 400],
      ['GET', '/no/such/route', undefined, undefined, 404, 404],
      ['PATCH', '/config', undefined, undefined, 405, 405],
    ];
    for (const [method, path, body, raw, status, errorCode] of cases) {
      const answer = await http(registry.url, method, path, body, raw);
      expect({ method, path, status: answer.status, body: answer.body }).toMatchObject({
        method,
        path,
        status,
        body: { error_code: errorCode, message: expect.any(String) },
      });
    }
    // Unsupported types are named in the message.
    const json = await http(registry.url, 'POST', `/subjects/${subject}/versions`, { schemaType: 'JSON', schema: '{}' });
    expect((json.body as { message: string }).message).toMatch(/AVRO only/);

    const versionMissing = await http(registry.url, 'POST', `/subjects/${subject}/versions`, { schema: JSON.stringify(orderV1) });
    expect(versionMissing.status).toBe(200);
    expect((await http(registry.url, 'GET', `/subjects/${subject}/versions/7`)).body).toMatchObject({ error_code: 40402 });
    expect((await http(registry.url, 'POST', `/subjects/${subject}`, { schema: JSON.stringify(orderV2) })).body).toMatchObject({
      error_code: 40403,
    });
  });

  it('answers bytes that are not HTTP with 400 and keeps serving', async () => {
    const reply = await new Promise<string>((resolve, reject) => {
      const socket = connect(registry.port, '127.0.0.1', () => socket.write('\x00\x01garbage\r\n\r\n'));
      let data = '';
      socket.on('data', (chunk) => (data += chunk.toString()));
      socket.on('close', () => resolve(data));
      socket.on('error', reject);
    });
    expect(reply).toMatch(/^HTTP\/1\.1 400/);
    expect((await http(registry.url, 'GET', '/config')).status).toBe(200);
  });

  it('registers concurrent writers to one subject as distinct, consecutive versions', async () => {
    const subject = uniqueName('race-value');
    await http(registry.url, 'PUT', `/config/${subject}`, { compatibility: 'NONE' });
    const schemas = Array.from({ length: 20 }, (_, i) => JSON.stringify({ type: 'record', name: `R${i}`, fields: [] }));
    const answers = await Promise.all(schemas.map((schema) => http(registry.url, 'POST', `/subjects/${subject}/versions`, { schema })));
    expect(answers.every((a) => a.status === 200)).toBe(true);
    expect(new Set(answers.map((a) => (a.body as { id: number }).id)).size).toBe(20);
    expect((await http(registry.url, 'GET', `/subjects/${subject}/versions`)).body).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
  });

  it('bound to every interface, hands out a loopback URL that works', async () => {
    const wildcard = await startSchemaRegistry({ host: '0.0.0.0', port: 0 });
    try {
      expect(wildcard.url).toBe(`http://127.0.0.1:${wildcard.port}`);
      expect((await http(wildcard.url, 'GET', '/subjects')).body).toEqual([]);
    } finally {
      await wildcard.close();
    }
  });

  it('refuses options it cannot use', async () => {
    await expect(startSchemaRegistry({ port: 70000 })).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
    await expect(startSchemaRegistry({ port: registry.port })).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
  });
});
