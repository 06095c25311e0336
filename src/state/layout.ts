import { PyramidError } from '../errors.js';
import type { RelativeBoundaries } from '../engine/boundaries.js';
import type { AccountBalance, BalanceBucket, BalanceState, Bucket, CustomerState } from '../engine/types.js';
import type { RankedMetric } from '../policy/types.js';

/**
 * The Redis layout of pyramid's state: every key name, every meta field and the stored customer
 * encoding live here, so the layout can be read (and changed) in one place. The architecture
 * document (docs/ARCHITECTURE.md, "State layout") explains why it is shaped this way.
 *
 * All keys of partition `p` of topic `t` carry the hash tag `{t:p}`: Redis Cluster hashes only
 * the tagged part, so one script can write a partition's customers, timers, dedupe claims,
 * outbox and meta atomically, on a cluster too.
 *
 * Layout of partition `p` (base = `${prefix}:{${topic}:${p}}`):
 * - `base:meta`   hash: the fields of {@link META}
 * - `base:cs:<s>` hash, for s in 0..S-1: field = customer id, value = {@link encodeCustomer}, for
 *   the customers whose {@link customerShard} is s. S sub-hashes rather than a hash per customer
 *   (a chunk loads and writes its customers with one command per touched sub-hash) and rather than
 *   one hash per partition (no single unbounded key: moving a slot or deleting a huge key blocks
 *   Redis).
 * - `base:due`    sorted set: customer id -> when its timer fires
 * - `base:tx`     sorted set: transaction id -> when its dedupe claim expires
 * - `base:outbox` stream of tier changes (field `c`) and signals (field `s`) (outbox-codec.ts), ids
 *   `0-<n>`, n = outbox sequence (one sequence for both kinds)
 * - `base:rk:monetary`, `base:rk:frequency` sorted sets (policies with relative tiers only):
 *   customer id -> ranked value, for the customers in the ranked population at their last commit,
 *   written by the same commit as the customers (what the boundary coordinator ranks); the
 *   frequency set only for a policy with a frequency band
 */

/**
 * The layout version, stored in every partition meta ({@link META.formatVersion}) and at the head
 * of every customer value. State of any other version is refused, never guessed at.
 */
export const FORMAT_VERSION = 1;

/** The default first segment of every key; several deployments can share a Redis by changing it. */
export const DEFAULT_KEY_PREFIX = 'pyr';

/**
 * Customer sub-hashes per partition by default. Part of the state layout (stored in the partition
 * meta and checked on every claim): changing it for existing state needs a migration.
 */
export const DEFAULT_CUSTOMER_SHARDS = 64;

/** Field names of the partition meta hash. */
export const META = {
  formatVersion: 'fv',
  /** Partition count of the input topic the state was built for (part of the layout). */
  partitionCount: 'pc',
  /** Customer sub-hash count S (part of the layout). */
  customerShards: 'ns',
  policyVersion: 'pv',
  /** Hash of the compiled policy's content: the same version with other rules is refused. */
  policyHash: 'ph',
  /** Token of the partition's current owner, set by each claim: the fence against zombies. */
  owner: 'ow',
  /** Commits since the partition was created; every commit requires the one it read. */
  commit: 'cn',
  /** Last applied Kafka offset. */
  lastOffset: 'wo',
  /**
   * Last applied Kafka offset of partition p of the co-partitioned balances topic: the second
   * watermark of a partition fed by two topic-partitions (absent until a balance applied).
   */
  balanceLastOffset: 'wb',
  /** Event-time watermark: max event time applied. */
  eventWatermark: 'ew',
  /** Last outbox sequence number used. */
  outboxSeq: 'os',
  /**
   * The input topic's incarnation the state was built from: `<offset>@<timestamp>` of the
   * partition's first record when it was first claimed (see src/pipeline/topic-incarnation.ts).
   */
  topicIncarnation: 'ti',
  /**
   * Where the background re-evaluation of a policy switch stands: `<sub-hash>:<HSCAN cursor>`
   * of the next page to re-evaluate; absent or empty when no switch is in progress. Moved by the
   * same fenced commit as the POLICY changes of the page, so a crash neither loses nor repeats one.
   */
  reevaluationCursor: 'rc',
  /** The policy version the partition switched from (the last switch); carried in logs and status. */
  previousPolicyVersion: 'pp',
  /**
   * Relative tiers: the last epoch of boundaries whose BOUNDARY re-evaluation of every customer of
   * the partition is committed (absent: none).
   */
  boundaryEpoch: 'be',
  /**
   * Relative tiers: where the BOUNDARY re-evaluation of a newer epoch stands,
   * `<epoch>:<sub-hash>:<HSCAN cursor>`; absent or empty when none is in progress. Moved by the
   * same fenced commit as the page's BOUNDARY changes.
   */
  boundaryCursor: 'bc',
  /**
   * Relative tiers on the event clock (`ranking.every`): the latest boundary instant the partition
   * has reached (its records before it applied, its timers due at or before it fired, epoch ms).
   * The partition applies nothing at or after it until its BOUNDARY re-evaluation of the epoch of
   * that instant is committed (`be`); the coordinator publishes that epoch once every partition
   * has reached the instant. Absent: no instant reached yet.
   */
  barrierInstant: 'bt',
} as const;

/** Prefix of the per-tier customer counter fields (`n:<tier>`). */
export const TIER_CUSTOMERS_PREFIX = 'n:';
/** Prefix of the per-tier revenue counter fields (`r:<tier>`): their stored rolling monetary. */
export const TIER_REVENUE_PREFIX = 'r:';
/** Prefix of the per-tier profit counter fields (`p:<tier>`): their stored rolling profit (absent: 0). */
export const TIER_PROFIT_PREFIX = 'p:';

/** The keys of one topic partition. */
export interface PartitionKeys {
  meta: string;
  due: string;
  tx: string;
  outbox: string;
  /** Sub-hash `s` is `customerShardPrefix + s`; the commit script appends the shard itself. */
  customerShardPrefix: string;
  /** How many customer sub-hashes the partition has (S). */
  customerShards: number;
  /** Ranked sets of the relative tiers, by metric. */
  ranked: Record<RankedMetric, string>;
}

/** The keys of partition `partition` of `topic` under `prefix`, with `customerShards` customer sub-hashes. */
export function partitionKeys(prefix: string, topic: string, partition: number, customerShards = DEFAULT_CUSTOMER_SHARDS): PartitionKeys {
  const base = `${prefix}:{${topic}:${partition}}`;
  return {
    meta: `${base}:meta`,
    due: `${base}:due`,
    tx: `${base}:tx`,
    outbox: `${base}:outbox`,
    customerShardPrefix: `${base}:cs:`,
    customerShards,
    ranked: { monetary: `${base}:rk:monetary`, frequency: `${base}:rk:frequency` },
  };
}

/** The glob matching the meta key of every partition of `topic` under `prefix`. */
export function metaKeyPattern(prefix: string, topic: string): string {
  return `${prefix}:{${topic}:*}:meta`;
}

/** The partition of a meta key matched by {@link metaKeyPattern}; null for any other key. */
export function partitionOfMetaKey(key: string): number | null {
  const match = /\{.*:(\d+)\}:meta$/.exec(key);
  return match?.[1] === undefined ? null : Number(match[1]);
}

/**
 * The customer sub-hash of `customerId` among `shards`: 32-bit FNV-1a over the id's UTF-16 code
 * units, finished with MurmurHash3's fmix32 (FNV alone leaves the low bits of ids that differ in
 * a few trailing digits poorly spread over a power-of-two S), modulo `shards`.
 */
export function customerShard(customerId: string, shards: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < customerId.length; i++) h = Math.imul(h ^ customerId.charCodeAt(i), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) % shards;
}

/** Customer sub-hash `shard` of a partition. */
export function customerShardKey(keys: PartitionKeys, shard: number): string {
  return keys.customerShardPrefix + shard;
}

/** The sub-hash holding customer `customerId` (field = the id) in one partition. */
export function customerKey(keys: PartitionKeys, customerId: string): string {
  return customerShardKey(keys, customerShard(customerId, keys.customerShards));
}

const optional = (n: number | null): string => (n === null ? '' : String(n));

/**
 * Head of a customer value that also carries profit, balances or signal state (the extended
 * encoding). A customer without any is stored in the plain encoding, byte for byte as before, so
 * existing stores decode unchanged and cost no byte more; a scorer that predates the extension
 * refuses an extended value (STATE_LAYOUT_MISMATCH, "version field 2") instead of misreading it.
 */
export const EXTENDED_CUSTOMER_ENCODING = 2;

/**
 * The stored value of a customer. Plain (version {@link FORMAT_VERSION}):
 * `1|seq|tierSince|pendingDowngradeSince|lastPurchaseAt|timerAt|buckets|tier`, buckets as
 * `index:monetary:frequency` joined by `,` (ascending), absent numbers empty, the tier last so it
 * may hold any character (empty before the first classification). Extended (version
 * {@link EXTENDED_CUSTOMER_ENCODING}), when a bucket has profit, the customer has balances or
 * signal state (a signal count or a NEAR_UPGRADE cooldown):
 * `2|seq|tierSince|pendingDowngradeSince|lastPurchaseAt|timerAt|signalSeq|nearUpgradeAt|buckets|balances|tier`,
 * signalSeq the number of signals emitted (0 in the plain encoding), nearUpgradeAt when the last
 * NEAR_UPGRADE was emitted (empty: never; plain: never), a bucket
 * with profit as `index:monetary:frequency:profit`; balances empty, or
 * `baseSum;accounts;balanceBuckets` with accounts as `accountId=balance@asOf` (ascending by id;
 * account ids are letters, digits, `_`, `.`, `-`) and balance buckets as
 * `index:offsetWeight:endSum`, all joined by `,`. Integers in decimal: every value is exact (minor
 * units and epoch ms stay far below 2^53; offset weights are bigints).
 */
export function encodeCustomer(state: CustomerState): string {
  let buckets = '';
  let extended = state.balances !== undefined || state.signalSeq !== 0 || state.nearUpgradeAt !== null;
  for (const b of state.buckets) {
    buckets += (buckets === '' ? '' : ',') + b.index + ':' + b.monetary + ':' + b.frequency;
    if (b.profit !== undefined && b.profit !== 0) {
      buckets += ':' + b.profit;
      extended = true;
    }
  }
  const times = `${state.seq}|${optional(state.tierSince)}|${optional(state.pendingDowngradeSince)}|${optional(state.lastPurchaseAt)}|${optional(state.timerAt)}|`;
  if (!extended) return `${FORMAT_VERSION}|${times}${buckets}|${state.tier ?? ''}`;
  return `${EXTENDED_CUSTOMER_ENCODING}|${times}${state.signalSeq}|${optional(state.nearUpgradeAt)}|${buckets}|${encodeBalances(state.balances)}|${state.tier ?? ''}`;
}

function encodeBalances(balances: BalanceState | undefined): string {
  if (balances === undefined) return '';
  const accounts = balances.accounts.map((a) => `${a.accountId}=${a.balanceMinor}@${a.asOf}`).join(',');
  const buckets = balances.buckets.map((b) => `${b.index}:${b.offsetWeight}:${b.endSum}`).join(',');
  return `${balances.baseSum};${accounts};${buckets}`;
}

/**
 * A stored customer value decoded (plain or extended encoding).
 *
 * @throws PyramidError `STATE_LAYOUT_MISMATCH` when the value is of neither; the message gives its
 *   length and version, never its content (a customer's amounts and tier).
 */
export function decodeCustomer(value: string): CustomerState {
  const version = value.slice(0, value.indexOf('|'));
  const fieldsBeforeTier = version === String(EXTENDED_CUSTOMER_ENCODING) ? 10 : 7;
  const parts: string[] = [];
  let from = 0;
  for (let i = 0; i < fieldsBeforeTier; i++) {
    const bar = value.indexOf('|', from);
    if (bar < 0) break;
    parts.push(value.slice(from, bar));
    from = bar + 1;
  }
  const plain = fieldsBeforeTier === 7;
  const [, seq = '', tierSince = '', pending = '', lastPurchase = '', timer = ''] = parts;
  const [signalSeq = '0', nearUpgrade = '', buckets = '', balances = ''] = plain ? ['0', '', parts[6] ?? '', ''] : parts.slice(6);
  if (parts.length !== fieldsBeforeTier || (version !== String(FORMAT_VERSION) && version !== String(EXTENDED_CUSTOMER_ENCODING))) {
    throw new PyramidError(
      'STATE_LAYOUT_MISMATCH',
      `a stored customer value is not of format version ${FORMAT_VERSION} (${value.length} characters, version field ${JSON.stringify(version.slice(0, 8))})`,
    );
  }
  const opt = (text: string): number | null => (text === '' ? null : Number(text));
  const tier = value.slice(from);
  const state: CustomerState = {
    buckets: decodeBuckets(buckets),
    lastPurchaseAt: opt(lastPurchase),
    tier: tier === '' ? null : tier,
    tierSince: opt(tierSince),
    pendingDowngradeSince: opt(pending),
    seq: Number(seq),
    timerAt: opt(timer),
    signalSeq: Number(signalSeq),
    nearUpgradeAt: opt(nearUpgrade),
  };
  if (balances !== '') state.balances = decodeBalances(balances);
  return state;
}

function decodeBuckets(text: string): Bucket[] {
  if (text === '') return [];
  return text.split(',').map((part) => {
    const first = part.indexOf(':');
    const second = part.indexOf(':', first + 1);
    const third = part.indexOf(':', second + 1);
    if (third < 0) return { index: Number(part.slice(0, first)), monetary: Number(part.slice(first + 1, second)), frequency: Number(part.slice(second + 1)) };
    return {
      index: Number(part.slice(0, first)),
      monetary: Number(part.slice(first + 1, second)),
      frequency: Number(part.slice(second + 1, third)),
      profit: Number(part.slice(third + 1)),
    };
  });
}

function decodeBalances(text: string): BalanceState {
  const [base = '0', accounts = '', buckets = ''] = text.split(';');
  return {
    baseSum: Number(base),
    accounts:
      accounts === ''
        ? []
        : accounts.split(',').map((part): AccountBalance => {
            const eq = part.lastIndexOf('=');
            const at = part.lastIndexOf('@');
            return { accountId: part.slice(0, eq), balanceMinor: Number(part.slice(eq + 1, at)), asOf: Number(part.slice(at + 1)) };
          }),
    buckets:
      buckets === ''
        ? []
        : buckets.split(',').map((part): BalanceBucket => {
            const [index = '', offsetWeight = '', endSum = ''] = part.split(':');
            return { index: Number(index), offsetWeight: BigInt(offsetWeight), endSum: Number(endSum) };
          }),
  };
}

/**
 * The key of the policy in force for every partition under `prefix` (`pyramid policy apply`
 * writes it, scorers read it): a hash of the fields of {@link GROUP_POLICY}. Outside any
 * partition's hash tag: it is read and written on its own, never inside a partition script.
 */
export function groupPolicyKey(prefix: string): string {
  return `${prefix}:policy`;
}

/**
 * The pub/sub channel `pyramid policy apply` publishes the new version on, so running scorers
 * read {@link groupPolicyKey} at once; a hint only (they also poll it).
 */
export function groupPolicyChannel(prefix: string): string {
  return `${prefix}:policy-applied`;
}

/** Field names of the {@link groupPolicyKey} hash. */
export const GROUP_POLICY = {
  version: 'v',
  /** Content hash of the compiled policy (src/policy/content-hash.ts). */
  hash: 'h',
  /** The policy file's text, so every scorer compiles the very same policy. */
  content: 'c',
  /** Where the file came from (its path when applied), for messages. */
  source: 's',
  /** When it was applied, epoch ms. */
  appliedAt: 'a',
} as const;

/**
 * The keys of the relative-boundary coordination under `prefix`, all with one hash tag so one
 * script fences a publication by the lease (on Redis Cluster too):
 * - `lease`   string `<token>|<instance>`, with a TTL: who coordinates, and its fencing token
 * - `tokens`  counter: the last fencing token given out (each new holder gets a larger one)
 * - `epochs`  hash: epoch number -> {@link encodeBoundaries} (every epoch ever published, written once)
 * - `current` string: the latest published epoch number
 */
export interface RankingKeys {
  lease: string;
  tokens: string;
  epochs: string;
  current: string;
}

export function rankingKeys(prefix: string): RankingKeys {
  const base = `{${prefix}:ranking}`;
  return { lease: `${base}:lease`, tokens: `${base}:tokens`, epochs: `${base}:epochs`, current: `${base}:current` };
}

/** Format version of a stored epoch of boundaries. */
export const BOUNDARIES_FORMAT = 1;

/** One published epoch: the boundaries and the content hash of the policy they were computed for. */
export interface StoredBoundaries {
  policyHash: string;
  boundaries: RelativeBoundaries;
}

/**
 * An epoch as stored: JSON `[1, policyHash, epoch, at, population, cuts]`, each cut
 * `[metric, bps, rank, value | null, customerId | null]`.
 */
export function encodeBoundaries(stored: StoredBoundaries): string {
  const { boundaries: b } = stored;
  return JSON.stringify([
    BOUNDARIES_FORMAT,
    stored.policyHash,
    b.epoch,
    b.at,
    b.population,
    b.cuts.map((cut) => [cut.metric, cut.bps, cut.rank, cut.key?.value ?? null, cut.key?.customerId ?? null]),
  ]);
}

/**
 * @throws PyramidError `STATE_LAYOUT_MISMATCH` when the value is not of format {@link BOUNDARIES_FORMAT}.
 */
export function decodeBoundaries(text: string): StoredBoundaries {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = undefined;
  }
  if (!Array.isArray(value) || value[0] !== BOUNDARIES_FORMAT || value.length !== 6 || !Array.isArray(value[5])) {
    throw new PyramidError('STATE_LAYOUT_MISMATCH', `a stored epoch of relative boundaries is not of format ${BOUNDARIES_FORMAT} (${text.length} characters)`);
  }
  const [, policyHash, epoch, at, population, cuts] = value as [number, string, number, number, number, [RankedMetric, number, number, number | null, string | null][]];
  return {
    policyHash,
    boundaries: {
      epoch,
      at,
      population,
      cuts: cuts.map(([metric, bps, rank, v, id]) => ({ metric, bps, rank, key: v === null || id === null ? null : { value: v, customerId: id } })),
    },
  };
}
