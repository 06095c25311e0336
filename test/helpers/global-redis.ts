import type { TestProject } from 'vitest/node';
import { startRedisServer, type RedisServerHandle } from './redis-server.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** URL of the suite's own redis-server (never the user's Redis). */
    redisUrl: string;
  }
}

let server: RedisServerHandle | undefined;

/** One private redis-server for the whole suite; tests isolate themselves by key prefix. */
export async function setup(project: TestProject): Promise<void> {
  server = await startRedisServer();
  project.provide('redisUrl', server.url);
}

export async function teardown(): Promise<void> {
  await server?.stop();
}
