import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSchemaRegistry, type SchemaRegistryHandle } from '../../src/devstack/registry/index.js';
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
