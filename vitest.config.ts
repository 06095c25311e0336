import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/helpers/global-redis.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration tests start child processes and servers; two cores, so keep forks modest.
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default'],
  },
});
