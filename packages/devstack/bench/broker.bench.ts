/**
 * Embedded broker throughput with kafkajs: `npm run bench:broker -- [--messages N] [--memory]`.
 *
 * The broker runs as a child process (its own core, as in the dev stack), with a data directory
 * unless --memory. Produce: 150-byte values, 100 per send, several sends in flight, acks=-1.
 * Consume: one kafkajs consumer (eachBatch) reading everything from the beginning. Prints msg/s.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import kafkajs from 'kafkajs';

const { Kafka, logLevel } = kafkajs;

const { values: args } = parseArgs({
  options: {
    messages: { type: 'string', default: '300000' },
    memory: { type: 'boolean', default: false },
    partitions: { type: 'string', default: '4' },
    inflight: { type: 'string', default: '8' },
  },
});
const TOTAL = Number(args.messages);
const BATCH = 100;
const VALUE_BYTES = 150;
const PARTITIONS = Number(args.partitions);
const INFLIGHT = Number(args.inflight);

async function startChild(dataDir: string | null): Promise<{ port: number; cpuMs: () => number; stop: () => Promise<void> }> {
  const main = new URL('../src/broker/main.ts', import.meta.url).pathname;
  const cliArgs = ['--import', 'tsx', main, '--port', '0'];
  if (dataDir !== null) cliArgs.push('--data-dir', dataDir);
  const child = spawn(process.execPath, cliArgs, { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, PYRAMID_LOG_LEVEL: 'info' } });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`broker exited with ${code}`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        const entry = JSON.parse(line) as { msg?: string; port?: number };
        if (entry.msg === 'broker listening' && entry.port !== undefined) resolve(entry.port);
      } catch {
        // not JSON
      }
    });
  });
  return {
    port,
    // utime + stime of the broker process (Linux /proc, 100 ticks/s): shows whether the broker or
    // the kafkajs client in this process is the bottleneck.
    cpuMs: () => {
      const fields = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
      return (Number(fields[11]) + Number(fields[12])) * 10;
    },
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

function rate(count: number, ms: number): string {
  return `${Math.round((count / ms) * 1000).toLocaleString('en-US')} msg/s`;
}

const dataDir = args.memory ? null : mkdtempSync(join(tmpdir(), 'broker-bench-'));
const broker = await startChild(dataDir);
const kafka = new Kafka({ brokers: [`127.0.0.1:${broker.port}`], clientId: 'broker-bench', logLevel: logLevel.ERROR });
const topic = `bench-${Date.now()}`;
try {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }] });
  await admin.disconnect();

  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const value = Buffer.alloc(VALUE_BYTES, 'x');
  const messages = Array.from({ length: BATCH }, (_, i) => ({ key: `key-${i}`, value }));
  let sent = 0;
  const cpuBeforeProduce = broker.cpuMs();
  const produceStart = performance.now();
  await Promise.all(
    Array.from({ length: INFLIGHT }, async () => {
      while (sent < TOTAL) {
        sent += BATCH;
        await producer.send({ topic, acks: -1, messages });
      }
    }),
  );
  const produceMs = performance.now() - produceStart;
  const produceCpu = broker.cpuMs() - cpuBeforeProduce;
  await producer.disconnect();
  const produced = Math.ceil(TOTAL / BATCH) * BATCH;

  const consumer = kafka.consumer({ groupId: `bench-g-${Date.now()}`, maxBytesPerPartition: 4 * 1024 * 1024, maxBytes: 32 * 1024 * 1024 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let consumed = 0;
  let firstAt = 0;
  const cpuBeforeConsume = broker.cpuMs();
  const consumeStart = performance.now();
  const doneAt = await new Promise<number>((resolve) => {
    void consumer.run({
      eachBatchAutoResolve: true,
      eachBatch: async ({ batch }) => {
        if (firstAt === 0) firstAt = performance.now();
        consumed += batch.messages.length;
        if (consumed >= produced) resolve(performance.now());
      },
    });
  });
  const consumeCpu = broker.cpuMs() - cpuBeforeConsume;
  await consumer.disconnect();

  console.log(`broker bench: ${produced.toLocaleString('en-US')} messages x ${VALUE_BYTES} B, ${PARTITIONS} partitions, ${args.memory ? 'in memory' : 'data dir'}`);
  console.log(`  produce (batches of ${BATCH}, ${INFLIGHT} in flight, acks=-1): ${rate(produced, produceMs)}  (${Math.round(produceMs)} ms, broker CPU ${produceCpu} ms)`);
  console.log(`  consume (eachBatch, from first fetched batch):     ${rate(consumed, doneAt - firstAt)}  (${Math.round(doneAt - firstAt)} ms)`);
  console.log(`  consume (including group join):                    ${rate(consumed, doneAt - consumeStart)}  (${Math.round(doneAt - consumeStart)} ms, broker CPU ${consumeCpu} ms)`);
} finally {
  await broker.stop();
  if (dataDir !== null) rmSync(dataDir, { recursive: true, force: true });
}
