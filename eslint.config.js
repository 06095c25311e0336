// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/dist/', '**/node_modules/', 'coverage/', 'test-artifacts/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', setImmediate: 'readonly', URL: 'readonly' },
    },
    rules: {
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': ['error', { allow: ['error'] }],
      eqeqeq: ['error', 'always', { null: 'ignore' }],
    },
  },
  {
    // The layering: the engine is pure, state knows no pipeline, the pipeline knows no ops and no
    // CLI (ops and cli use the pipeline, never the other way round).
    files: ['src/engine/**'],
    rules: { 'no-restricted-imports': ['error', { patterns: ['../state/*', '../pipeline/*', '../ops/*', '../cli/*', '../kafka/*', 'ioredis', 'kafkajs'] }] },
  },
  {
    files: ['src/state/**'],
    rules: { 'no-restricted-imports': ['error', { patterns: ['../pipeline/*', '../ops/*', '../cli/*', '../kafka/*'] }] },
  },
  {
    files: ['src/pipeline/**'],
    rules: { 'no-restricted-imports': ['error', { patterns: ['../ops/*', '../cli/*'] }] },
  },
  {
    // The CLI, benches and scripts talk to a terminal on purpose.
    files: ['src/cli/**', 'bench/**', 'scripts/**', 'bin/**', 'packages/devstack/src/cli.ts', 'packages/devstack/bench/**'],
    rules: { 'no-console': 'off' },
  },
);
