// An LRU map bounded by its number of entries that costs nothing until it is used. lru-cache
// allocates its arrays for `max` entries up front: at mount time the namespace's, the metadata
// store's and the read-ahead's caches (hundreds of thousands of entries together) took 70 ms of
// the start-up and their garbage. Counting each entry as size 1 under `maxSize` keeps the same
// bound with arrays that grow as entries come.
import { LRUCache } from 'lru-cache';

export function lruOfCount<K extends NonNullable<unknown>, V extends NonNullable<unknown>>(count: number): LRUCache<K, V> {
  return new LRUCache<K, V>({ maxSize: count, sizeCalculation: () => 1 });
}
