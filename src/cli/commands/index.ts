import type { Command } from 'commander';

/** A sub-command registers itself on the program. One file per command in this folder. */
export type RegisterCommand = (program: Command) => void;

/** Every `pyramid` sub-command, in the order `--help` lists them. */
export const commands: RegisterCommand[] = [];
import { register as registerSimulate } from './simulate.js'; commands.push(registerSimulate);
import { register as registerRun } from './run.js'; commands.push(registerRun);
import { register as registerDemo } from './demo.js'; commands.push(registerDemo);
import { register as registerInspect } from './inspect.js'; commands.push(registerInspect);
import { register as registerReport } from './report.js'; commands.push(registerReport);
import { register as registerReplay } from './replay.js'; commands.push(registerReplay);
import { register as registerPolicy } from './policy.js'; commands.push(registerPolicy);
