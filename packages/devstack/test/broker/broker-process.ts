import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('../../src/broker/main.ts', import.meta.url));

/** The broker running as a child process (crash tests need a process to SIGKILL). */
export interface BrokerProcess {
  readonly port: number;
  readonly address: string;
  readonly child: ChildProcess;
  /** SIGKILL, and wait until the process is gone. */
  kill(): Promise<void>;
  /** SIGTERM (clean close), and wait until the process is gone. */
  stop(): Promise<void>;
}

/** Starts `src/broker/main.ts` under tsx and waits for its `broker listening` line. */
export async function startBrokerProcess(opts: { port?: number; dataDir: string; partitions?: number }): Promise<BrokerProcess> {
  const args = ['--import', 'tsx', MAIN, '--port', String(opts.port ?? 0), '--data-dir', opts.dataDir];
  if (opts.partitions !== undefined) args.push('--partitions', String(opts.partitions));
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PYRAMID_LOG_LEVEL: 'info' } });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`broker did not start within 30 s: ${stderr}`)), 30_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`broker exited with ${code} before listening: ${stderr}`));
    });
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      try {
        const entry = JSON.parse(line) as { msg?: string; port?: number };
        if (entry.msg === 'broker listening' && typeof entry.port === 'number') {
          clearTimeout(timer);
          resolve(entry.port);
        }
      } catch {
        // not a log line
      }
    });
  });
  const waitFor = async (signal: NodeJS.Signals): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
  };
  return {
    port,
    address: `127.0.0.1:${port}`,
    child,
    kill: () => waitFor('SIGKILL'),
    stop: () => waitFor('SIGTERM'),
  };
}
