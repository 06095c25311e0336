/**
 * A small seeded random source (sfc32, seeded through splitmix32) so a simulation with the same
 * seed produces the same transactions on every machine and Node version; Math.random cannot be
 * seeded.
 */
export interface Random {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [min, max]. */
  int(min: number, max: number): number;
  /** True with probability p. */
  chance(p: number): boolean;
  /** Pareto(alpha) with scale xm: heavy-tailed, P(X > x) = (xm / x)^alpha for x >= xm. */
  pareto(alpha: number, xm: number): number;
  /** One element of a non-empty list. */
  pick<T>(items: readonly T[]): T;
}

function splitmix32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** A deterministic random source for `seed` (any integer). */
export function createRandom(seed: number): Random {
  const init = splitmix32(seed);
  let a = init();
  let b = init();
  let c = init();
  let d = init();
  const nextUint32 = (): number => {
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = ((c << 21) | (c >>> 11)) >>> 0;
    c = (c + t) >>> 0;
    return t;
  };
  // Warm-up rounds, as the sfc32 reference does, so close seeds diverge.
  for (let i = 0; i < 12; i++) nextUint32();

  const random: Random = {
    next: () => nextUint32() / 4_294_967_296,
    int: (min, max) => min + Math.floor(random.next() * (max - min + 1)),
    chance: (p) => random.next() < p,
    // 1 - U is in (0, 1], so the power never divides by zero.
    pareto: (alpha, xm) => xm / Math.pow(1 - random.next(), 1 / alpha),
    pick: (items) => items[Math.floor(random.next() * items.length)] as (typeof items)[number],
  };
  return random;
}
