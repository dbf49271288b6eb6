// The global budget for downloaded file data (--vfs-memory-limit): every block of every open
// file is accounted here, so the memory used by reads is the same with one open file or ten
// thousand. A block is accounted as its bytes arrive; going over the budget drops other blocks.
//
// Eviction is scan resistant. Blocks are in one of three lists:
//   fresh    not (yet) read past by a sequential reader: data of random reads, read-ahead
//            nobody has reached yet. Least recently used first.
//   recent   the last `limit / 4` bytes that sequential readers have read past: kept for a late
//            out-of-order piece, or a second reader a little behind the first. Oldest first.
//   behind   read past by a sequential reader longer ago. Evicted *most recently demoted
//            first*: a file read again from the start finds its beginning still cached even
//            when the whole file does not fit (plain LRU gets no hit at all when a scan is
//            slightly larger than the budget: every block is dropped just before it is needed).
// The victim is the top of `behind`, else the oldest of `recent`, else the least recently used
// of `fresh`; so read-ahead that a reader is about to consume, and data of random reads, give
// way last.
//
// A block keeps the chunks of the HTTP body as they arrived: no copy into a block buffer, and no
// big buffers to allocate (a fresh 1 MiB buffer per MiB read cost page faults and made V8 run a
// full GC every few MiB for the external memory). Each chunk read from a socket has a buffer of
// its own, of its size, so what a block holds is what is accounted.

import { firstIndex } from '../../util/search.js';

/** a block is full (a fetch starts the next one) once it holds this many bytes */
export const BLOCK_SIZE = 1024 * 1024;
/** a chunk is kept as it is (no copy) unless that would hold this much memory it does not use */
const MAX_SLACK = 4096;
/** the least memory reads get, whatever the budget and the uploads */
const MIN_SHARE = 4 * 1024 * 1024;

const FRESH = 0;
const RECENT = 1;
const BEHIND = 2;
type ListId = typeof FRESH | typeof RECENT | typeof BEHIND;

/**
 * Downloaded bytes [start, start + filled) of one object version, as the chunks the HTTP body
 * delivered them in (kept as they are: no copy, no big buffer to allocate). A block grows
 * while its fetch appends to it (`filling`), up to about BLOCK_SIZE.
 */
export class Block {
  filled = 0;
  /** bytes of memory accounted for it (the chunks' buffers) */
  bytes = 0;
  /** its fetch may still append to it */
  filling = true;
  /** false once evicted: its owner's index no longer lists it */
  live = true;
  private readonly chunks: Buffer[] = [];
  /** end offset (relative to start) of each chunk */
  private readonly ends: number[] = [];
  /** @internal list links */
  prev: Block | undefined;
  next: Block | undefined;
  list: ListId = FRESH;
  constructor(
    readonly id: number,
    readonly owner: BlockOwner,
    readonly start: number,
  ) {}

  get end(): number {
    return this.start + this.filled;
  }

  /** Append a chunk; returns the bytes of memory it costs. */
  append(chunk: Buffer): number {
    // a small view of a big buffer would keep all of it: copy those
    const kept = chunk.buffer.byteLength - chunk.length > MAX_SLACK ? Buffer.from(chunk) : chunk;
    const cost = kept === chunk ? chunk.buffer.byteLength : chunk.length;
    this.chunks.push(kept);
    this.filled += chunk.length;
    this.ends.push(this.filled);
    this.bytes += cost;
    return cost;
  }

  /** Copy bytes from `pos` (inside the block), up to maxLen, into dst; returns how many. */
  copyTo(pos: number, dst: Buffer, dstOff: number, maxLen: number): number {
    const rel = pos - this.start;
    // the chunk holding rel: the first whose end is past it (rel is inside the block)
    let i = Math.min(
      firstIndex(this.ends.length, (k) => this.ends[k]! > rel),
      Math.max(0, this.ends.length - 1),
    );
    let done = 0;
    let at = rel - (i > 0 ? this.ends[i - 1]! : 0);
    while (done < maxLen && i < this.chunks.length) {
      const c = this.chunks[i]!;
      const n = Math.min(maxLen - done, c.length - at);
      c.copy(dst, dstOff + done, at, at + n);
      done += n;
      i++;
      at = 0;
    }
    return done;
  }

  /** @internal the cache dropped it */
  release(): void {
    this.live = false;
    this.chunks.length = 0;
    this.ends.length = 0;
  }
}

export interface BlockOwner {
  /** called when the cache drops a block, so the owner removes it from its index */
  evicted(block: Block): void;
}

/** An intrusive doubly linked list: head = oldest, tail = newest. */
class List {
  head: Block | undefined;
  tail: Block | undefined;
  bytes = 0;
  count = 0;

  constructor(readonly id: ListId) {}

  push(b: Block): void {
    b.list = this.id;
    b.prev = this.tail;
    b.next = undefined;
    if (this.tail) this.tail.next = b;
    else this.head = b;
    this.tail = b;
    this.bytes += b.bytes;
    this.count++;
  }

  remove(b: Block): void {
    if (b.prev) b.prev.next = b.next;
    else this.head = b.next;
    if (b.next) b.next.prev = b.prev;
    else this.tail = b.prev;
    b.prev = b.next = undefined;
    this.bytes -= b.bytes;
    this.count--;
  }
}

export class BlockCache {
  private readonly fresh = new List(FRESH);
  private readonly recent = new List(RECENT);
  private readonly behind = new List(BEHIND);
  private nextId = 1;
  private used = 0;
  /** the budget applied now: the whole limit, or what part buffers of uploads leave of it */
  private share: number;
  readonly stats = { evictions: 0 };

  constructor(readonly limitBytes: number) {
    this.share = BlockCache.atLeast(limitBytes);
  }

  /** At least a few MiB, whatever was asked: a budget smaller than one block would cache nothing. */
  private static atLeast(n: number): number {
    return Math.max(n, MIN_SHARE);
  }

  /** the budget applied now */
  get maxSize(): number {
    return this.share;
  }

  /** bytes of `recent` */
  private get recentMax(): number {
    return Math.floor(this.share / 4);
  }

  /**
   * The memory reads may use now (the mount's budget less what uploads hold: memory-budget.ts).
   * A smaller share drops blocks at once, in eviction order, down to it.
   */
  setShare(bytes: number): void {
    this.share = BlockCache.atLeast(Math.min(bytes, this.limitBytes));
    while (this.used > this.share && this.evictOne(undefined)) {
      /* evicted one */
    }
  }

  private listOf(b: Block): List {
    return b.list === FRESH ? this.fresh : b.list === RECENT ? this.recent : this.behind;
  }

  /** A new, empty block (it is accounted as it fills: see append()). */
  allocate(owner: BlockOwner, start: number): Block {
    const b = new Block(this.nextId++, owner, start);
    this.fresh.push(b);
    return b;
  }

  /** Add downloaded bytes to a block, dropping others (never `b`, if anything else is left) to stay within the budget. */
  append(b: Block, chunk: Buffer): void {
    const list = this.listOf(b);
    const cost = b.append(chunk);
    list.bytes += cost;
    this.used += cost;
    while (this.used > this.maxSize && this.evictOne(b)) {
      /* evicted one */
    }
  }

  /** A reader used the block (not read past it sequentially): keeps fresh data from being dropped. */
  touch(b: Block): void {
    if (!b.live || b.list !== FRESH || this.fresh.tail === b) return;
    this.fresh.remove(b);
    this.fresh.push(b);
  }

  /** A sequential reader has read past the end of the block. */
  consumed(b: Block): void {
    if (!b.live) return;
    if (b.list === RECENT && this.recent.tail === b) return;
    this.listOf(b).remove(b);
    this.recent.push(b);
    while (this.recent.bytes > this.recentMax && this.recent.head && this.recent.head !== b) {
      const old = this.recent.head;
      this.recent.remove(old);
      this.behind.push(old);
    }
  }

  /** Drop a block now (its data is known to be useless). */
  drop(b: Block): void {
    if (b.live) this.evict(b);
  }

  /** Drop the next victim that is not `keep` (the block being filled); false when there is none. */
  private evictOne(keep: Block | undefined): boolean {
    const victim = pick(this.behind.tail, (b) => b.prev, keep) ?? pick(this.recent.head, (b) => b.next, keep) ?? pick(this.fresh.head, (b) => b.next, keep);
    if (!victim) return false;
    this.evict(victim);
    return true;
  }

  private evict(b: Block): void {
    this.listOf(b).remove(b);
    this.used -= b.bytes;
    this.stats.evictions++;
    b.release();
    b.owner.evicted(b);
  }

  get usedBytes(): number {
    return this.used;
  }

  get blockCount(): number {
    return this.fresh.count + this.recent.count + this.behind.count;
  }
}

function pick(first: Block | undefined, step: (b: Block) => Block | undefined, not: Block | undefined): Block | undefined {
  return first !== undefined && first === not ? step(first) : first;
}
