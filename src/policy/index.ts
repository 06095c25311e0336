/**
 * The tier policy: loading, validating and describing policy files (src/engine evaluates them).
 * Nothing here performs I/O except `loadPolicyFile`.
 */
export * from './types.js';
export * from './describe.js';
export * from './money.js';
export * from '../duration.js';
export * from './currencies.js';
export * from './compile.js';
export * from './parse.js';
export * from './load.js';
export * from './content-hash.js';
