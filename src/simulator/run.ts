import avro from 'avsc';
import type { PyramidProducer } from '../kafka/producer.js';
import type { SchemaRegistryClient } from '../kafka/schema-registry.js';
import type { OutgoingRecord } from '../kafka/types.js';
import { writeSchemaFrame } from '../kafka/wire-format.js';
import { loadContract, valueSubject } from '../pipeline/decode-schemas.js';
import { retrying, type RetryOptions } from '../pipeline/retry.js';
import type { Transaction } from '../pipeline/validate.js';
import { generateTransactions, type SimulationOptions } from './generate.js';

/** Which transaction contract versions the simulator writes. `mixed` alternates v1 and v2 per record. */
export type SimulatedSchemaVersion = 'v1' | 'v2' | 'mixed';

export interface RunSimulatorOptions extends SimulationOptions {
  producer: PyramidProducer;
  topic: string;
  format: 'avro' | 'json';
  /** Required for Avro: the schemas are registered under `<topic>-value`. */
  registry?: SchemaRegistryClient;
  /** Default v2. */
  schemaVersion?: SimulatedSchemaVersion;
  /** Events per second; undefined sends as fast as the broker takes them. */
  rate?: number;
  /** Records per produce request. Default 500. */
  batchSize?: number;
  signal?: AbortSignal;
  /** Called after every produce request with the running total. */
  onProgress?: (sent: number) => void;
  /**
   * Backoff for a produce request that failed with a retriable error (a broker down or
   * restarting); default `DEFAULT_RETRY`. Requests are retried until they succeed, `signal`
   * aborts, or an error is not retriable (that one is thrown).
   */
  retry?: RetryOptions;
  /** Called after each failed attempt of a produce request, before waiting `delayMs` for the next. */
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
}

export interface SimulatorResult {
  sent: number;
  duplicates: number;
  late: number;
  durationMs: number;
}

type Encoder = (transaction: Transaction, index: number) => Buffer | string;

function v1Fields(transaction: Transaction): Omit<Transaction, 'channel' | 'merchantCategory'> {
  const { channel: _channel, merchantCategory: _category, ...v1 } = transaction;
  return v1;
}

async function buildEncoder(options: RunSimulatorOptions): Promise<Encoder> {
  const version = options.schemaVersion ?? 'v2';
  const useV1 = (index: number): boolean => version === 'v1' || (version === 'mixed' && index % 2 === 0);
  if (options.format === 'json') {
    return (transaction, index) => JSON.stringify(useV1(index) ? v1Fields(transaction) : transaction);
  }
  if (options.registry === undefined) throw new Error('the Avro format needs a schema registry');
  const subject = valueSubject(options.topic);
  const writers: Array<{ id: number; type: avro.Type } | undefined> = [undefined, undefined];
  // Register v1 before v2 so the subject's version history reads in the order the contract evolved.
  if (version !== 'v2') {
    writers[0] = { id: await options.registry.registerAvro(subject, loadContract('transaction-v1')), type: avro.Type.forSchema(JSON.parse(loadContract('transaction-v1')) as avro.Schema) };
  }
  if (version !== 'v1') {
    writers[1] = { id: await options.registry.registerAvro(subject, loadContract('transaction-v2')), type: avro.Type.forSchema(JSON.parse(loadContract('transaction-v2')) as avro.Schema) };
  }
  return (transaction, index) => {
    const writer = (useV1(index) ? writers[0] : writers[1]) as { id: number; type: avro.Type };
    return writeSchemaFrame(writer.id, writer.type.toBuffer(useV1(index) ? v1Fields(transaction) : transaction));
  };
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * Produces the synthetic bank's transactions to a topic, keyed by customerId (so a customer's
 * events stay in one partition, in order), as Avro through the registry or as JSON. Paced to
 * `rate` events per second when given; stops after `count` events or when `signal` aborts.
 * Retries through broker outages (see `retry`).
 */
export async function runSimulator(options: RunSimulatorOptions): Promise<SimulatorResult> {
  const encode = await buildEncoder(options);
  const started = Date.now();
  // At a set rate, send about ten requests a second so pacing stays smooth.
  const batchSize = options.rate === undefined ? (options.batchSize ?? 500) : Math.max(1, Math.min(options.batchSize ?? 500, Math.ceil(options.rate / 10)));
  const result: SimulatorResult = { sent: 0, duplicates: 0, late: 0, durationMs: 0 };
  let batch: OutgoingRecord[] = [];

  const flush = async (): Promise<void> => {
    if (batch.length === 0) return;
    const records = batch;
    const sent = await retrying(() => options.producer.send(options.topic, records), {
      shouldStop: () => options.signal?.aborted === true,
      options: options.retry,
      onRetry: async (err, attempt, delayMs) => {
        options.onRetry?.(err, attempt, delayMs);
        // A request kafkajs gave up on leaves the idempotent producer's sequence numbers ahead of
        // what the broker has, and every later send fails; a new producer session (a new producer
        // id) starts them afresh. The price: a request the broker did write before the outage is
        // written again (at least once, as the simulated bank's own duplicates are anyway).
        await options.producer.disconnect().catch(() => undefined);
      },
    });
    batch = [];
    if (!sent.done) return;
    result.sent += records.length;
    options.onProgress?.(result.sent);
    if (options.rate !== undefined) {
      const due = started + (result.sent / options.rate) * 1_000;
      const wait = due - Date.now();
      if (wait > 0) await sleep(wait, options.signal);
    }
  };

  let index = 0;
  for (const { transaction, duplicate, late } of generateTransactions(options)) {
    if (options.signal?.aborted) break;
    batch.push({ key: transaction.customerId, value: encode(transaction, index++) });
    if (duplicate) result.duplicates += 1;
    if (late) result.late += 1;
    if (batch.length >= batchSize) await flush();
  }
  await flush();
  result.durationMs = Date.now() - started;
  return result;
}
