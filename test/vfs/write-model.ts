// The reference model of the write layer for write-model.test.ts (mountpoint-s3's reftests):
// files as plain byte arrays behind names, open handles on them, and what a crash may leave.
//
// Items are what a name points at (an inode): handles keep their item when the name is
// renamed, replaced or unlinked. Each item knows whether it changed since it was last made
// durable (close/fsync of the write layer, a sync, an orderly remount); each name knows what a
// crash must leave there:
//   - a name whose item has no change since its last durable point: exactly that content
//     (`durable`), or absent if it never was durable;
//   - a name with changes not made durable: the durable content, one of `alts` (what the name
//     held before an unflushed file was renamed over it), or a mix of the states since the
//     last durable point (every byte one of the values that position had, the size one of the
//     sizes it had): a process crash keeps some unflushed writes and not others, as a local
//     filesystem may.
// Names unlinked or renamed away are gone also after a crash (unlink and rename are durable
// when they return).

export interface History {
  sizes: Set<number>;
  /** the values each byte position had since the last durable point */
  bytes: Array<Set<number>>;
}

export class ModelItem {
  content: Buffer;
  history: History | null = null;
  constructor(content: Buffer, fresh: boolean) {
    this.content = content;
    // a new file is not durable until its first flush: every state since creation counts
    if (fresh) this.history = { sizes: new Set([0]), bytes: [] };
  }

  private changing(): History {
    if (!this.history) {
      this.history = { sizes: new Set([this.content.length]), bytes: [] };
      for (let i = 0; i < this.content.length; i++) this.history.bytes[i] = new Set([this.content[i]!]);
    }
    return this.history;
  }

  private note(h: History, from: number, to: number): void {
    for (let i = from; i < to; i++) (h.bytes[i] ??= new Set()).add(this.content[i]!);
    h.sizes.add(this.content.length);
  }

  write(offset: number, data: Buffer): void {
    const h = this.changing();
    const end = offset + data.length;
    const old = this.content.length;
    if (end > old) {
      const grown = Buffer.alloc(end);
      this.content.copy(grown);
      this.content = grown;
      this.note(h, old, end); // zeros of a gap
    }
    data.copy(this.content, offset);
    this.note(h, offset, end);
  }

  truncate(size: number): void {
    const h = this.changing();
    const old = this.content.length;
    if (size < old) {
      // a crash may show the old size with the cut bytes read back as zeros
      for (let i = size; i < old; i++) (h.bytes[i] ??= new Set()).add(0);
      this.content = Buffer.from(this.content.subarray(0, size));
      h.sizes.add(size);
    } else if (size > old) {
      const grown = Buffer.alloc(size);
      this.content.copy(grown);
      this.content = grown;
      this.note(h, old, size);
    } else h.sizes.add(size);
  }

  get clean(): boolean {
    return this.history === null;
  }
}

export interface NameState {
  item: ModelItem;
  /** what a crash must leave here when the item is clean (null: nothing) */
  durable: Buffer | null;
  /** other acceptable outcomes while the item is not clean */
  alts: Array<Buffer | null>;
}

export class Model {
  readonly names = new Map<string, NameState>();
  /** open handles by the test's handle number */
  readonly handles = new Map<number, ModelItem>();

  /** create(2) of a name that does not exist */
  create(name: string): ModelItem {
    const item = new ModelItem(Buffer.alloc(0), true);
    const prev = this.names.get(name);
    this.names.set(name, { item, durable: prev ? prev.durable : null, alts: prev ? [...prev.alts] : [] });
    return item;
  }

  /** the item's current content was made durable (close, fsync, sync) */
  madeDurable(item: ModelItem): void {
    item.history = null;
    for (const st of this.names.values()) {
      if (st.item !== item) continue;
      st.durable = item.content;
      st.alts = [];
    }
  }

  unlink(name: string): void {
    this.names.delete(name);
  }

  rename(from: string, to: string): void {
    const src = this.names.get(from)!;
    const dst = this.names.get(to);
    this.names.delete(from);
    const alts = src.item.clean ? [] : [...src.alts, ...(dst ? [dst.durable, ...dst.alts] : [null])];
    this.names.set(to, { item: src.item, durable: src.durable, alts });
  }

  /** A deep copy (items shared between names and handles stay shared). */
  clone(): Model {
    const copy = new Model();
    const items = new Map<ModelItem, ModelItem>();
    const dup = (it: ModelItem): ModelItem => {
      let c = items.get(it);
      if (!c) {
        c = new ModelItem(Buffer.from(it.content), false);
        c.history = it.history && { sizes: new Set(it.history.sizes), bytes: it.history.bytes.map((b) => new Set(b)) };
        items.set(it, c);
      }
      return c;
    };
    for (const [n, st] of this.names) copy.names.set(n, { item: dup(st.item), durable: st.durable, alts: [...st.alts] });
    for (const [h, it] of this.handles) copy.handles.set(h, dup(it));
    return copy;
  }

  /** after an orderly remount: everything named is as it is now, durable; no handles */
  remounted(): void {
    this.handles.clear();
    for (const st of this.names.values()) this.madeDurable(st.item);
  }

  /** Why `observed` (null: absent) is not a state a crash may leave at `name`; null when it is. */
  crashViolation(name: string, observed: Buffer | null): string | null {
    const st = this.names.get(name);
    if (!st) return observed === null ? null : `${name}: unlinked or renamed away before the crash, but it is there (${observed.length} bytes)`;
    const same = (a: Buffer | null, b: Buffer | null) => (a === null ? b === null : b !== null && a.equals(b));
    if (st.item.clean) {
      if (same(st.durable, observed)) return null;
      return `${name}: closed/fsynced as ${describe(st.durable)}, after the crash ${describe(observed)}`;
    }
    if (same(st.durable, observed) || st.alts.some((a) => same(a, observed))) return null;
    if (observed === null) return `${name}: changed after its last flush; after the crash it is absent, but its durable state is ${describe(st.durable)}`;
    const h = st.item.history!;
    if (!h.sizes.has(observed.length))
      return `${name}: after the crash ${describe(observed)}, a size it never had since its last flush (${[...h.sizes].join(', ')})`;
    for (let i = 0; i < observed.length; i++) {
      if (!h.bytes[i]?.has(observed[i]!)) return `${name}: after the crash byte ${i} is ${observed[i]}, a value it never had since its last flush`;
    }
    return null;
  }

  /** after a crash and remount: the model becomes what was found (it was checked to be allowed) */
  recovered(found: Map<string, Buffer>): void {
    this.names.clear();
    this.handles.clear();
    for (const [name, data] of found) this.names.set(name, { item: new ModelItem(data, false), durable: data, alts: [] });
  }
}

export function describe(b: Buffer | null): string {
  if (b === null) return 'absent';
  return `${b.length} bytes (md5-free digest ${digest(b)})`;
}

function digest(b: Buffer): string {
  let h = 2166136261;
  for (const x of b) h = Math.imul(h ^ x, 16777619) >>> 0;
  return h.toString(16);
}
