import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { groupCoordinatorPlugin, startBroker, startSchemaRegistry, type BrokerHandle, type SchemaRegistryHandle } from '@pyramid/devstack';
import { createKafkaClient } from '../../src/kafka/client.js';
import { startCli } from '../cli/spawn-cli.js';
import { waitFor } from '../e2e/support.js';
import { freePort } from '../helpers/redis-server.js';
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

  it('retries through a broker outage, one warning line per try, and loses nothing (it died on the first ECONNREFUSED)', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'pyramid-simulate-outage-'));
    // A fixed port and a data directory, so the restarted broker is the same broker to kafkajs.
    const port = await freePort();
    const startOn = (): Promise<BrokerHandle> => startBroker({ port, dataDir, autoCreateTopics: false, plugins: [groupCoordinatorPlugin()] });
    let broker = await startOn();
    const topic = uniqueName('outage-tx');
    const admin = createKafkaClient({ brokers: [broker.address], clientId: uniqueName('outage'), tls: { enabled: false, rejectUnauthorized: true } }).createAdmin();
    try {
      const count = 1_500;
      const simulate = startCli(['simulate', '--brokers', broker.address, '--topic', topic, '--partitions', '2', '--count', String(count), '--rate', '300', '--format', 'json', '--seed', '9'], {});
      await admin.connect();
      const produced = async (): Promise<number> => (await admin.topicOffsets(topic).catch(() => [])).reduce((sum, p) => sum + Number(p.high), 0);
      expect(await waitFor(async () => (await produced()) > 0, 30_000, 50), simulate.stderr()).toBe(true);
      await admin.disconnect();

      await broker.close();
      // kafkajs retries on its own first; the simulator's own retry shows once kafkajs gave up.
      expect(await waitFor(() => /retrying in \d+\.\d s \(attempt 1\)/.test(simulate.stderr()), 60_000, 100), simulate.stderr()).toBe(true);
      expect(simulate.stderr()).toMatch(/^pyramid simulate: kafka produce to \S+ failed: .+; retrying in \d+\.\d s \(attempt 1\)$/m);
      broker = await startOn();

      expect(await simulate.exited, simulate.stderr()).toBe(0);
      const summary = /sent (\d+) transactions to .* (\d+) duplicates/.exec(simulate.stdout());
      expect(summary?.[1], simulate.stdout()).toBe(String(count));
      // Every transaction is in the topic: as many distinct ids as the simulator made (its own
      // duplicates reuse an id); a request retried after the outage may add copies, never gaps.
      const { batches } = await consumeBatches(createKafkaClient({ brokers: [broker.address], clientId: uniqueName('outage-read'), tls: { enabled: false, rejectUnauthorized: true } }), topic, count);
      const ids = new Set(batches.flatMap((b) => b.records).map((r) => (JSON.parse(r.value!.toString()) as { transactionId: string }).transactionId));
      expect(ids.size).toBe(count - Number(summary?.[2]));
    } finally {
      await admin.disconnect().catch(() => undefined);
      await broker.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
    // kafkajs spends ~15 s on its own retries before the simulator's retry shows.
  }, 150_000);
});
