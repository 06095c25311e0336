import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSchemaRegistry, type SchemaRegistryHandle } from '@pyramid/devstack';
import { isPyramidError } from '../../src/errors.js';
import { createSchemaRegistryClient } from '../../src/kafka/schema-registry.js';
import { loadContract, valueSubject } from '../../src/pipeline/decode-schemas.js';
import { uniqueName } from '../helpers/unique.js';

let registry: SchemaRegistryHandle;
beforeAll(async () => {
  registry = await startSchemaRegistry({ port: 0 });
});
afterAll(async () => {
  await registry?.close();
});

describe('schema registry client against the embedded registry', () => {
  it('registers idempotently and reads a schema back by id', async () => {
    const client = createSchemaRegistryClient({ url: `${registry.url}/` });
    const subject = valueSubject(uniqueName('tx'));
    const id = await client.registerAvro(subject, loadContract('transaction-v1'));
    expect(await client.registerAvro(subject, loadContract('transaction-v1'))).toBe(id);
    const found = await client.getSchemaById(id);
    expect(found?.schemaType).toBe('AVRO');
    expect(JSON.parse(found?.schema ?? '{}')).toMatchObject({ name: 'Transaction', namespace: 'pyramid' });
  });

  it('answers null for an unknown id', async () => {
    expect(await createSchemaRegistryClient({ url: registry.url }).getSchemaById(424_242)).toBeNull();
  });

  it('reports a schema the subject refuses as SCHEMA_REJECTED, not as an outage', async () => {
    const client = createSchemaRegistryClient({ url: registry.url });
    const subject = valueSubject(uniqueName('tx'));
    await client.registerAvro(subject, loadContract('transaction-v1'));
    // A new required field without a default breaks BACKWARD compatibility.
    const breaking = JSON.parse(loadContract('transaction-v1')) as { fields: unknown[] };
    breaking.fields.push({ name: 'branch', type: 'string', doc: 'x' });
    const error = await client.registerAvro(subject, JSON.stringify(breaking)).catch((err: unknown) => err);
    expect(isPyramidError(error, 'SCHEMA_REJECTED')).toBe(true);
  });
});

describe('schema registry basic auth', () => {
  let seen: IncomingHttpHeaders | undefined;
  const server = createServer((req, res) => {
    seen = req.headers;
    res.writeHead(401).end();
  });
  beforeAll(() => new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve)));
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('sends the credentials and names the variables to check when they are refused', async () => {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const error = await createSchemaRegistryClient({ url, username: 'reg', password: 'pw' })
      .getSchemaById(1)
      .catch((err: unknown) => err);
    expect(seen?.authorization).toBe(`Basic ${Buffer.from('reg:pw').toString('base64')}`);
    expect(isPyramidError(error, 'SCHEMA_REGISTRY_UNAVAILABLE') && error.message).toMatch(/PYRAMID_REGISTRY_USERNAME/);
    expect(isPyramidError(error) && error.retriable).toBe(false);
  });
});

/**
 * The part of Confluent Schema Registry 3.x the client uses, as strict as it is: a request field
 * the registry does not know (3.x predates `schemaType`, added in 5.5) is refused with 422.
 */
function confluent3Registry() {
  const schemas: string[] = [];
  const bodies: unknown[] = [];
  const answer = (res: ServerResponse, status: number, body: unknown): void => {
    res.writeHead(status, { 'content-type': 'application/vnd.schemaregistry.v1+json' }).end(JSON.stringify(body));
  };
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const register = /^\/subjects\/[^/]+\/versions$/.exec(req.url ?? '');
    const byId = /^\/schemas\/ids\/(\d+)$/.exec(req.url ?? '');
    if (req.method === 'POST' && register) {
      const body = JSON.parse(Buffer.concat(chunks).toString()) as Record<string, unknown>;
      bodies.push(body);
      const unknown = Object.keys(body).find((field) => field !== 'schema');
      if (unknown !== undefined) return answer(res, 422, { error_code: 422, message: `Unrecognized field: ${unknown}` });
      const schema = JSON.stringify(JSON.parse(String(body.schema)));
      if (!schemas.includes(schema)) schemas.push(schema);
      return answer(res, 200, { id: schemas.indexOf(schema) + 1 });
    }
    const stored = byId ? schemas[Number(byId[1]) - 1] : undefined;
    if (req.method === 'GET' && byId) return stored === undefined ? answer(res, 404, { error_code: 40403, message: 'Schema not found' }) : answer(res, 200, { schema: stored });
    answer(res, 404, { error_code: 404, message: 'HTTP 404 Not Found' });
  };
  const server = createServer((req, res) => void handle(req, res));
  return { server, bodies };
}

describe('schema registry client against a registry that predates schemaType (Confluent 3.x)', () => {
  const { server, bodies } = confluent3Registry();
  beforeAll(() => new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve)));
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('registers Avro schemas without the schemaType field and reads them back as AVRO', async () => {
    const client = createSchemaRegistryClient({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
    const subject = valueSubject(uniqueName('tx'));
    const v1 = await client.registerAvro(subject, loadContract('transaction-v1'));
    const v2 = await client.registerAvro(subject, loadContract('transaction-v2'));
    expect(await client.registerAvro(subject, loadContract('transaction-v1'))).toBe(v1);
    expect(v2).not.toBe(v1);
    expect(bodies.every((body) => Object.keys(body as object).join() === 'schema')).toBe(true);

    const found = await client.getSchemaById(v2);
    expect(found?.schemaType).toBe('AVRO');
    expect(JSON.parse(found?.schema ?? '{}')).toEqual(JSON.parse(loadContract('transaction-v2')));
    expect(await client.getSchemaById(99)).toBeNull();
  });
});
