/**
 * The tier policy: loading and validating policy files, and the pure evaluator that the Lua state
 * engine mirrors. Nothing here performs I/O except `loadPolicyFile`.
 */
export * from './types.js';
export * from './aggregates.js';
export * from './evaluate.js';
export * from './headroom.js';
export * from './due.js';
export * from './change.js';
export * from './describe.js';
export * from './money.js';
export * from './duration.js';
export * from './currencies.js';
export * from './compile.js';
export * from './parse.js';
export * from './load.js';
