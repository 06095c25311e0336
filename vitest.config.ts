import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration tests start child processes and servers; two cores, so keep forks modest.
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default'],
    // `npm test` is the whole suite: pyramid's own tests and those of the dev-stack package.
    projects: [
      {
        extends: true,
        test: { name: 'pyramid', include: ['test/**/*.test.ts'], globalSetup: ['test/helpers/global-redis.ts'] },
      },
      'packages/devstack',
    ],
  },
});
