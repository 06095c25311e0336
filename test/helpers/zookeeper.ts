import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pollUntil } from '../ops/live-support.js';
import { requireInstalled, spawnService, type ExternalService } from './external-service.js';
import { freePort } from './redis-server.js';

/** Debian's `zookeeper` package: the server jar (its manifest names the dependency jars). */
const ZOOKEEPER_JAR = '/usr/share/java/zookeeper.jar';
const JAVA = '/usr/bin/java';

/** A standalone ZooKeeper child process on a free loopback port, with its own temp data dir. */
export interface ZooKeeperHandle {
  /** `127.0.0.1:<port>`. */
  readonly address: string;
  stop(): Promise<void>;
}

/**
 * Whether the server serves sessions: `srvr` reports `Mode: standalone` only then (`ruok` answers
 * `imok` earlier, while session requests are still dropped with EOF).
 */
function serving(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let reply = '';
    socket.on('data', (d) => (reply += d.toString()));
    socket.on('connect', () => socket.end('srvr'));
    // A server still starting may take the connection and never answer: the probe says no then,
    // so the caller's deadline holds (a probe without a bound hung a whole test hook once).
    socket.setTimeout(2_000, () => socket.destroy());
    socket.on('close', () => resolve(reply.includes('Mode: standalone')));
    socket.on('error', () => resolve(false));
  });
}

/**
 * Starts ZooKeeper the way Debian's package runs it (ZooKeeperServerMain with a config file), but
 * bound to 127.0.0.1 only, without the admin HTTP server, in a temp dir removed on stop.
 */
export async function startZooKeeper(): Promise<ZooKeeperHandle> {
  requireInstalled(ZOOKEEPER_JAR, 'zookeeper', 'ZooKeeper (Burrow 1.2 keeps its own state in it)', 'file');
  requireInstalled(JAVA, 'zookeeper', 'java (a dependency of the zookeeper package)');
  const dir = mkdtempSync(join(tmpdir(), 'pyramid-zk-'));
  mkdirSync(join(dir, 'data'));
  const port = await freePort();
  writeFileSync(
    join(dir, 'zoo.cfg'),
    ['tickTime=2000', `dataDir=${join(dir, 'data')}`, `clientPort=${port}`, 'clientPortAddress=127.0.0.1', 'admin.enableServer=false', '4lw.commands.whitelist=srvr'].join('\n') + '\n',
  );
  const service: ExternalService = spawnService('zookeeper', JAVA, ['-Xmx128m', '-cp', ZOOKEEPER_JAR, 'org.apache.zookeeper.server.ZooKeeperServerMain', join(dir, 'zoo.cfg')]);
  const stop = async (): Promise<void> => {
    await service.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  if (!(await pollUntil(async () => service.exited() || (await serving(port)), 30_000, 100)) || service.exited()) {
    const output = service.output();
    await stop();
    throw new Error(`ZooKeeper did not start on 127.0.0.1:${port}\n${output}`);
  }
  return { address: `127.0.0.1:${port}`, stop };
}
