import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    name: 'devstack',
    // Paths are from this package, whether vitest runs here or as a project of the root suite.
    root: import.meta.dirname,
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // The integration tests start broker processes and kcat; two cores, so keep forks modest.
    pool: 'forks',
    maxWorkers: 2,
  },
});
