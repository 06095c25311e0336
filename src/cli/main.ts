#!/usr/bin/env node
import { Command } from 'commander';
import { commands } from './commands/index.js';
import { failureReport } from './failure-report.js';

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
    // PYRAMID_LOG_LEVEL, not the loaded config: the failure may be that the config did not load.
    console.error(failureReport(err, process.env.PYRAMID_LOG_LEVEL));
    process.exitCode = 1;
  });
