import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The Avro contracts shipped in `schemas/`, by file name without `.avsc`. */
export type ContractName = 'transaction-v1' | 'transaction-v2' | 'tier-change-v1' | 'tier-change-v2';

/** The reader schema the pipeline decodes every transaction into (newest version). */
export const TRANSACTION_READER_CONTRACT: ContractName = 'transaction-v2';

/** Subject naming follows Confluent's TopicNameStrategy: `<topic>-value`. */
export function valueSubject(topic: string): string {
  return `${topic}-value`;
}

function findSchemasDir(): string {
  // Walk up from this module: the same code runs from src/ (tsx) and from dist/src/ (built).
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'schemas');
    if (existsSync(join(candidate, 'transaction-v1.avsc'))) return candidate;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('pyramid: cannot find the schemas/ folder next to the package');
    dir = parent;
  }
}

const cache = new Map<ContractName, string>();

/**
 * The text of a shipped Avro contract. `schemas/` is the single source: producers (simulator,
 * relay), the decoder and the docs all read these files.
 */
export function loadContract(name: ContractName): string {
  let text = cache.get(name);
  if (text === undefined) {
    text = readFileSync(join(findSchemasDir(), `${name}.avsc`), 'utf8');
    cache.set(name, text);
  }
  return text;
}
