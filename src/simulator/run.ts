import avro from 'avsc';
import type { PyramidProducer } from '../kafka/producer.js';
import type { SchemaRegistryClient } from '../kafka/schema-registry.js';
import type { OutgoingRecord } from '../kafka/types.js';
import { writeSchemaFrame } from '../kafka/wire-format.js';
import { loadContract, valueSubject } from '../pipeline/decode-schemas.js';
import { retrying, type RetryOptions } from '../pipeline/retry.js';
import type { BalanceSnapshot, Transaction } from '../pipeline/validate.js';
import { createBalanceSimulator } from './balances.js';
import { generateTransactions, type SimulationOptions } from './generate.js';

/**
 * Which transaction contract versions the simulator writes. `mixed` alternates v1 and v2 per
 * record; `v3` adds each transaction's margin (profitMinor).
 */
export type SimulatedSchemaVersion = 'v1' | 'v2' | 'v3' | 'mixed';

export interface RunSimulatorOptions extends SimulationOptions {
  producer: PyramidProducer;
  topic: string;
  format: 'avro' | 'json';
  /** Required for Avro: the schemas are registered under `<topic>-value`. */
  registry?: SchemaRegistryClient;
  /** Default v2. */
  schemaVersion?: SimulatedSchemaVersion;
  /**
   * Also produce account balance snapshots (balance-v1, same format) to `topic`, keyed by
   * customerId, as `ratio` of all records (0 < ratio < 1), interleaved with the transactions, each
   * at the simulated clock of the transaction it follows.
   */
  balances?: { topic: string; ratio: number };
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
  /** Records produced (transactions and balance snapshots). */
  sent: number;
  /** Of them, balance snapshots. */
  balances: number;
  duplicates: number;
  late: number;
  durationMs: number;
}

type Encoder = (transaction: Transaction, index: number) => Buffer | string;

function v1Fields(transaction: Transaction): Omit<Transaction, 'channel' | 'merchantCategory' | 'profitMinor'> {
  const { channel: _channel, merchantCategory: _category, profitMinor: _profit, ...v1 } = transaction;
  return v1;
}

function v2Fields(transaction: Transaction): Omit<Transaction, 'profitMinor'> {
  const { profitMinor: _profit, ...v2 } = transaction;
  return v2;
}

async function buildEncoder(options: RunSimulatorOptions): Promise<Encoder> {
  const version = options.schemaVersion ?? 'v2';
  const useV1 = (index: number): boolean => version === 'v1' || (version === 'mixed' && index % 2 === 0);
  if (version === 'v3') {
    if (options.format === 'json') return (transaction) => JSON.stringify(transaction);
    if (options.registry === undefined) throw new Error('the Avro format needs a schema registry');
    const text = loadContract('transaction-v3');
    const id = await options.registry.registerAvro(valueSubject(options.topic), text);
    const type = avro.Type.forSchema(JSON.parse(text) as avro.Schema);
    return (transaction) => writeSchemaFrame(id, type.toBuffer(transaction));
  }
  if (options.format === 'json') {
    return (transaction, index) => JSON.stringify(useV1(index) ? v1Fields(transaction) : v2Fields(transaction));
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
    return writeSchemaFrame(writer.id, writer.type.toBuffer(useV1(index) ? v1Fields(transaction) : v2Fields(transaction)));
  };
}

async function buildBalanceEncoder(options: RunSimulatorOptions, topic: string): Promise<(snapshot: BalanceSnapshot) => Buffer | string> {
  if (options.format === 'json') return (snapshot) => JSON.stringify(snapshot);
  if (options.registry === undefined) throw new Error('the Avro format needs a schema registry');
  const text = loadContract('balance-v1');
  const id = await options.registry.registerAvro(valueSubject(topic), text);
  const type = avro.Type.forSchema(JSON.parse(text) as avro.Schema);
  return (snapshot) => writeSchemaFrame(id, type.toBuffer(snapshot));
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
  const balances = options.balances;
  if (balances !== undefined && !(balances.ratio > 0 && balances.ratio < 1)) throw new RangeError('balances.ratio must be above 0 and below 1');
  const encodeBalance = balances === undefined ? undefined : await buildBalanceEncoder(options, balances.topic);
  const balanceSource = balances === undefined ? undefined : createBalanceSimulator({ seed: options.seed, customers: options.customers, ...(options.currency === undefined ? {} : { currency: options.currency }) });
  // Snapshots per transaction, so that they are `ratio` of all records; the fraction is carried on.
  const balancesPerTransaction = balances === undefined ? 0 : balances.ratio / (1 - balances.ratio);
  let balanceCredit = 0;
  const started = Date.now();
  // At a set rate, send about ten requests a second so pacing stays smooth.
  const batchSize = options.rate === undefined ? (options.batchSize ?? 500) : Math.max(1, Math.min(options.batchSize ?? 500, Math.ceil(options.rate / 10)));
  const result: SimulatorResult = { sent: 0, balances: 0, duplicates: 0, late: 0, durationMs: 0 };
  let batch: OutgoingRecord[] = [];
  let balanceBatch: OutgoingRecord[] = [];

  const send = async (topic: string, records: OutgoingRecord[]): Promise<boolean> => {
    if (records.length === 0) return true;
    const sent = await retrying(() => options.producer.send(topic, records), {
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
    return sent.done;
  };

  const flush = async (): Promise<void> => {
    if (batch.length === 0 && balanceBatch.length === 0) return;
    const records = batch;
    const balanceRecords = balanceBatch;
    batch = [];
    balanceBatch = [];
    if (!(await send(options.topic, records))) return;
    if (balances !== undefined && !(await send(balances.topic, balanceRecords))) return;
    result.sent += records.length + balanceRecords.length;
    result.balances += balanceRecords.length;
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
    const asOf = options.startTime + Math.floor(index * options.spacingMs);
    batch.push({ key: transaction.customerId, value: encode(transaction, index++) });
    if (duplicate) result.duplicates += 1;
    if (late) result.late += 1;
    if (balanceSource !== undefined && encodeBalance !== undefined) {
      for (balanceCredit += balancesPerTransaction; balanceCredit >= 1; balanceCredit -= 1) {
        const snapshot = balanceSource.next(asOf);
        balanceBatch.push({ key: snapshot.customerId, value: encodeBalance(snapshot) });
      }
    }
    if (batch.length + balanceBatch.length >= batchSize) await flush();
  }
  await flush();
  result.durationMs = Date.now() - started;
  return result;
}
