import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pollUntil } from '../ops/live-support.js';
import { requireInstalled, spawnService } from './external-service.js';
import { freePort } from './redis-server.js';

const BURROW = '/usr/bin/Burrow';

/**
 * The newest `kafka-version` Burrow 1.2.1 knows. With it sarama sends Metadata, ListOffsets and
 * Fetch versions the embedded broker serves (Fetch v4+ returns record batches).
 */
const KAFKA_VERSION = '2.1.0';

export interface StartBurrowOptions {
  /** `host:port` of the Kafka broker. */
  readonly broker: string;
  /** `host:port` of a ZooKeeper: Burrow 1.2 keeps its own coordination state there, always. */
  readonly zookeeper: string;
  /** The name Burrow gives the cluster in its API paths. */
  readonly cluster: string;
  /** Only groups matching this regex are tracked, so other tests' groups never show up. */
  readonly groupWhitelist: string;
}

/** Per partition, what Burrow reports for a consumer group. */
export interface BurrowPartition {
  readonly topic: string;
  readonly partition: number;
  /** Burrow's last committed offset for the partition (from `__consumer_offsets`). */
  readonly committed: number | null;
  /** Burrow's `current-lag`: its latest log-end offset minus the last committed offset. */
  readonly currentLag: number;
}

/** A Burrow child process with its HTTP API on a free loopback port. */
export interface BurrowHandle {
  readonly url: string;
  /** Every partition Burrow holds for `group` (empty while it knows no commit of it). */
  consumer(group: string): Promise<BurrowPartition[]>;
  output(): string;
  stop(): Promise<void>;
}

interface ConsumerDetail {
  error: boolean;
  message: string;
  topics?: Record<string, { offsets: ({ offset: number } | null)[]; 'current-lag': number }[]>;
}

/**
 * Starts Debian's Burrow 1.2.1 with a TOML config in a temp dir: one cluster module (log-end
 * offsets via ListOffsets, refreshed every second) and one `kafka` consumer module that reads
 * committed offsets by consuming `__consumer_offsets` from the beginning, no ZooKeeper offsets.
 */
export async function startBurrow(options: StartBurrowOptions): Promise<BurrowHandle> {
  requireInstalled(BURROW, 'burrow', 'Burrow');
  const dir = mkdtempSync(join(tmpdir(), 'pyramid-burrow-'));
  const port = await freePort();
  const servers = JSON.stringify([options.broker]);
  writeFileSync(
    join(dir, 'burrow.toml'),
    `[general]
pidfile="${join(dir, 'burrow.pid')}"

[logging]
level="info"

[zookeeper]
servers=${JSON.stringify([options.zookeeper])}
timeout=6
root-path="/burrow"

[client-profile.test]
client-id="burrow-pyramid-test"
kafka-version="${KAFKA_VERSION}"

[cluster.${options.cluster}]
class-name="kafka"
servers=${servers}
client-profile="test"
topic-refresh=1
offset-refresh=1

[consumer.${options.cluster}]
class-name="kafka"
cluster="${options.cluster}"
servers=${servers}
client-profile="test"
start-latest=false
group-whitelist=${JSON.stringify(options.groupWhitelist)}

[httpserver.default]
address="127.0.0.1:${port}"

[storage.default]
class-name="inmemory"
workers=2
intervals=10
expire-group=604800
min-distance=1
`,
  );
  const service = spawnService('Burrow', BURROW, ['--config-dir', dir], { cwd: dir });
  const url = `http://127.0.0.1:${port}`;
  const stop = async (): Promise<void> => {
    await service.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  const healthy = await pollUntil(async () => service.exited() || (await fetch(`${url}/burrow/admin`, { signal: AbortSignal.timeout(2_000) }).then((r) => r.ok, () => false)), 30_000, 100);
  if (!healthy || service.exited()) {
    const output = service.output();
    await stop();
    throw new Error(`Burrow did not serve ${url}/burrow/admin\n${output}`);
  }
  return {
    url,
    output: service.output,
    stop,
    async consumer(group) {
      const res = await fetch(`${url}/v3/kafka/${options.cluster}/consumer/${encodeURIComponent(group)}`, { signal: AbortSignal.timeout(10_000) });
      const body = (await res.json()) as ConsumerDetail;
      // Burrow answers 404 "cluster or consumer not found" until it has read a commit of the group.
      if (res.status === 404) return [];
      if (body.error) throw new Error(`Burrow: ${body.message}`);
      return Object.entries(body.topics ?? {}).flatMap(([topic, partitions]) =>
        partitions.map((p, partition) => {
          const last = [...p.offsets].reverse().find((o) => o !== null) ?? null;
          return { topic, partition, committed: last?.offset ?? null, currentLag: p['current-lag'] };
        }),
      );
    },
  };
}
