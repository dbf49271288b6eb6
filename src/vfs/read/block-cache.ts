// The global budget for downloaded file data (--vfs-memory-limit): every block of every open
// file is one entry of a single lru-cache bounded by total bytes, so the memory used by reads is
// the same with one open file or ten thousand. When the budget is reached the least recently
// used block is dropped (its data is simply downloaded again if it is needed again).
import { LRUCache } from 'lru-cache';

/** Downloaded bytes [start, start + filled) of one object version; `buf` may still be filling. */
export class Block {
  filled = 0;
  /** false once evicted: its owner's index no longer lists it */
  live = true;
  constructor(
    readonly id: number,
    readonly owner: BlockOwner,
    readonly start: number,
    readonly buf: Buffer,
  ) {}

  get end(): number {
    return this.start + this.filled;
  }
}

export interface BlockOwner {
  /** called when the cache drops a block, so the owner removes it from its index */
  evicted(block: Block): void;
}

export class BlockCache {
  private readonly lru: LRUCache<number, Block>;
  private nextId = 1;

  constructor(readonly limitBytes: number) {
    // At least a few MiB, whatever was asked: a budget smaller than one block would cache nothing.
    const maxSize = Math.max(limitBytes, 4 * 1024 * 1024);
    this.lru = new LRUCache<number, Block>({
      maxSize,
      sizeCalculation: (b) => Math.max(1, b.buf.length),
      dispose: (b) => {
        b.live = false;
        b.owner.evicted(b);
      },
    });
  }

  /** A new block, accounted in full from the start (its buffer is allocated up front). */
  allocate(owner: BlockOwner, start: number, size: number): Block {
    const b = new Block(this.nextId++, owner, start, Buffer.allocUnsafe(size));
    this.lru.set(b.id, b);
    return b;
  }

  /** Mark a block as just used (keeps it from being the next one dropped). */
  touch(b: Block): void {
    this.lru.get(b.id);
  }

  drop(b: Block): void {
    this.lru.delete(b.id);
  }

  get usedBytes(): number {
    return this.lru.calculatedSize;
  }
}
