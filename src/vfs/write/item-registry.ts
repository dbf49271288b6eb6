// Where the write layer finds each write state: by mount path while it has a name, and in a set
// of its own once it has none (unlinked while still open, or broken) but still holds handles or
// data. WriteBack decides; this registry only keeps the two indexes consistent.
import { isSelfOrBelow, rebase } from '../paths.js';
import type { Item } from './item.js';

export class ItemRegistry {
  private readonly byPath = new Map<string, Item>();
  private readonly nameless = new Set<Item>();

  get(rel: string): Item | undefined {
    return this.byPath.get(rel);
  }

  has(rel: string): boolean {
    return this.byPath.has(rel);
  }

  /** `item` is the write state at its path */
  add(item: Item): void {
    this.byPath.set(item.rel, item);
  }

  /** `item` loses its name (unlinked while open, broken): true if it had it */
  hide(item: Item): boolean {
    if (this.byPath.get(item.rel) !== item) return false;
    this.byPath.delete(item.rel);
    this.nameless.add(item);
    return true;
  }

  /** a recovered item: at its path if that is free, else kept without a name */
  adopt(item: Item): void {
    if (!this.byPath.has(item.rel)) this.byPath.set(item.rel, item);
    else this.nameless.add(item);
  }

  /** `item` is no longer the write state of anything */
  forget(item: Item, at: string = item.rel): void {
    if (this.byPath.get(at) === item) this.byPath.delete(at);
    this.nameless.delete(item);
  }

  /** the item at `rel`, which no longer has a name there */
  remove(rel: string): Item | undefined {
    const item = this.byPath.get(rel);
    this.byPath.delete(rel);
    return item;
  }

  /** items at `dir` or below it */
  below(dir: string): Item[] {
    return [...this.byPath.values()].filter((it) => isSelfOrBelow(it.rel, dir));
  }

  /** Moves the items at `from` or below to `to` (keyed by their new paths); `each` renames the
   *  item itself before it is indexed again. */
  move(from: string, to: string, each: (item: Item, oldRel: string, newRel: string) => void): Item[] {
    const moved: Item[] = [];
    for (const [rel, item] of [...this.byPath]) {
      if (!isSelfOrBelow(rel, from)) continue;
      this.byPath.delete(rel);
      const newRel = rebase(rel, from, to);
      each(item, rel, newRel);
      this.byPath.set(newRel, item);
      moved.push(item);
    }
    return moved;
  }

  /** items with a name */
  named(): Item[] {
    return [...this.byPath.values()];
  }

  /** every item, named or not */
  all(): Item[] {
    return [...this.byPath.values(), ...this.nameless];
  }

  clear(): void {
    this.byPath.clear();
    this.nameless.clear();
  }
}
