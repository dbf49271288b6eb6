// Reproducible randomness for tests (mulberry32): a failing random-pattern test fails the same
// way on every run with the same seed, so it can be debugged.

/** numbers in [0, 1) from `seed` */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** rng plus integers in [lo, hi] */
export function prng(seed: number): { next: () => number; int: (lo: number, hi: number) => number } {
  const next = rng(seed);
  return { next, int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)) };
}
