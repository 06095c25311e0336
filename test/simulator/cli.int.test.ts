import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSchemaRegistry, type SchemaRegistryHandle } from '../../src/devstack/registry/index.js';
import { uniqueName } from '../helpers/unique.js';
import { consumeBatches, startEmbeddedKafka, type EmbeddedKafka } from '../kafka/embedded-broker.js';

const run = promisify(execFile);

let env: EmbeddedKafka;
let registry: SchemaRegistryHandle;
beforeAll(async () => {
  env = await startEmbeddedKafka();
  registry = await startSchemaRegistry({ port: 0 });
});
afterAll(async () => {
  await registry?.close();
  await env?.close();
});

describe('pyramid simulate', () => {
  it('creates the topic and produces the requested number of records', async () => {
    const topic = uniqueName('cli-tx');
    const { stdout } = await run(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'simulate', '--brokers', env.broker.address, '--registry', registry.url, '--topic', topic, '--partitions', '2', '--count', '300', '--customers', '20', '--schema', 'mixed', '--seed', '5'],
      { env: { ...process.env, PYRAMID_KAFKA_SASL_MECHANISM: '', PYRAMID_KAFKA_TLS: '' }, timeout: 60_000 },
    );
    expect(stdout).toMatch(new RegExp(`created topic ${topic} with 2 partitions`));
    expect(stdout).toMatch(/sent 300 transactions .*\(avro, mixed\)/);
    const { batches } = await consumeBatches(env.kafka, topic, 300);
    expect(batches.flatMap((b) => b.records)).toHaveLength(300);
    expect(new Set(batches.map((b) => b.partition))).toEqual(new Set([0, 1]));
  });

  it('names the variable or flag when the connection settings are wrong', async () => {
    const failure = await run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'simulate', '--brokers', 'no-port', '--count', '1', '--format', 'json'], { timeout: 60_000 }).catch(
      (err: { stderr: string; code: number }) => err,
    );
    expect('code' in failure && failure.code).toBe(1);
    expect('stderr' in failure && failure.stderr).toMatch(/PYRAMID_KAFKA_BROKERS: each broker must be host:port/);
  });
});
