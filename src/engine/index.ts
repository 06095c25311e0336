/**
 * The tier engine: the only code that computes rolling R/F/M, tiers, hysteresis, due times and
 * headroom (the contract: docs/ARCHITECTURE.md, "Scoring contract"). Pure: no I/O and no clock of
 * its own, so it is tested without services and a replay gives the same result every time.
 */
export * from './types.js';
export * from './aggregates.js';
export * from './boundaries.js';
export * from './evaluate.js';
export * from './relax.js';
export * from './headroom.js';
export * from './due.js';
export * from './change.js';
export * from './signals.js';
export * from './apply.js';
export * from './inspect.js';
export * from './policy-change.js';
