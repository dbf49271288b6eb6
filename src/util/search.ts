// Binary search over anything sorted: the one implementation the block index, the blocks'
// chunk lists and the cache files' range sets share.

/**
 * The first index in [0, length) at which `reached(i)` holds, for a `reached` that is false up
 * to some index and true from there on; `length` when it never holds.
 */
export function firstIndex(length: number, reached: (i: number) => boolean): number {
  let lo = 0;
  let hi = length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (reached(mid)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}
