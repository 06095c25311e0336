#!/usr/bin/env node
import { Command } from 'commander';
import { commands } from './commands/index.js';

/** Entry point of the `pyramid` CLI. Each sub-command lives in its own file under ./commands. */
export function buildProgram(): Command {
  const program = new Command('pyramid')
    .description('Streaming customer-pyramid scorer: Kafka transactions in, rolling RFM in Redis, tier changes out.')
    .showHelpAfterError();
  for (const register of commands) register(program);
  return program;
}

buildProgram()
  .parseAsync(process.argv)
  .catch((err: unknown) => {
    console.error(err instanceof Error ? `pyramid: ${err.message}` : err);
    process.exitCode = 1;
  });
