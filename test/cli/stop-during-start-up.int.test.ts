import kafkajs from 'kafkajs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startDevStack, type DevStackHandle } from '@pyramid/devstack';
import { createTopics, uniqueNames, waitFor } from '../e2e/support.js';
import { freePort } from '../helpers/redis-server.js';
import { cliEnv, startCli, type CliProcess } from './spawn-cli.js';

/** The session timeout of both instances: what the second one's join waits for after the first is SIGKILLed. */
const SESSION_TIMEOUT_MS = 30_000;

describe('SIGTERM during start-up', () => {
  let stack: DevStackHandle;
  const started: CliProcess[] = [];
  beforeAll(async () => {
    stack = await startDevStack({ brokerPort: 0, registryPort: 0 });
  });
  afterAll(async () => {
    for (const cli of started) cli.child.kill('SIGKILL');
    await stack.close();
  });

  it('exits 0 while the group join waits for a SIGKILLed member (it waited out the session timeout, then joined)', async () => {
    const names = uniqueNames('stop-start-up');
    await createTopics(stack.brokers, [names.transactions], 2);
    const env = cliEnv({
      brokers: stack.brokers,
      redisUrl: inject('redisUrl'),
      names,
      extra: { PYRAMID_CONSUMER_SESSION_TIMEOUT: `${SESSION_TIMEOUT_MS}ms`, PYRAMID_CONSUMER_HEARTBEAT_INTERVAL: '1s', PYRAMID_LOG_LEVEL: 'info' },
    });

    // A member of the group that dies without leaving: the broker keeps it until its session times out.
    const port = await freePort();
    const first = startCli(['run'], { ...env, PYRAMID_HTTP_PORT: String(port) });
    started.push(first);
    const ready = await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.status === 200, 60_000, 200);
    expect(ready, first.stdout() + first.stderr()).toBe(true);
    first.child.kill('SIGKILL');
    await first.exited;

    // The replacement's JoinGroup is held by the broker (state PreparingRebalance) until then.
    const second = startCli(['run'], env);
    started.push(second);
    // kafkajs directly: the group's state is what the broker says, not what pyramid's wrapper reports.
    const admin = new kafkajs.Kafka({ brokers: stack.brokers, clientId: 'stop-during-start-up-test', logLevel: kafkajs.logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      const joining = await waitFor(async () => (await admin.describeGroups([names.groupId])).groups[0]?.state === 'PreparingRebalance', 30_000, 100);
      expect(joining, second.stdout() + second.stderr()).toBe(true);
    } finally {
      await admin.disconnect();
    }

    second.child.kill('SIGTERM');
    // A generous bound, only so that a regression fails here rather than by the test timeout:
    // well before the dead member's session could have ended the join.
    const outcome = await Promise.race([second.exited, new Promise((resolve) => setTimeout(() => resolve('still running'), SESSION_TIMEOUT_MS / 2))]);
    expect(outcome, second.stdout() + second.stderr()).toBe(0);
    expect(second.stdout()).toContain('stopping during start-up');
    expect(second.stdout()).not.toContain('partitions assigned');
    expect(second.stderr()).toBe('');
  });

  it('exits 0 while kafkajs is still retrying an unreachable broker (it retried on, then failed with status 1)', async () => {
    const names = uniqueNames('stop-connecting');
    const cli = startCli(['run'], cliEnv({ brokers: [`127.0.0.1:${await freePort()}`], redisUrl: inject('redisUrl'), names, extra: { PYRAMID_LOG_LEVEL: 'info' } }));
    started.push(cli);
    const retrying = await waitFor(() => cli.stdout().includes('Failed to connect to seed broker'), 30_000, 50);
    expect(retrying, cli.stdout() + cli.stderr()).toBe(true);
    cli.child.kill('SIGTERM');
    expect(await cli.exited, cli.stdout() + cli.stderr()).toBe(0);
    expect(cli.stdout()).toContain('stopping during start-up');
    expect(cli.stderr()).toBe('');
  });
});
