// tsc copies no Lua: put every .lua next to its compiled caller, as the loader expects.
import { cpSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function walk(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (name.endsWith('.lua')) cpSync(path, path.replace(/^src/, 'dist'));
  }
}
walk('src');
