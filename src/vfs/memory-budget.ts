// One memory budget for the file data of a whole mount (--vfs-memory-limit): the blocks
// downloaded for readers (read-ahead, random-read pages, data kept for a re-read) and the part
// buffers of uploads streamed from sequential writes, together.
//
// The split moves with the load. Uploads may take at most half of the budget (StreamMemory's
// budget): past it a new stream continues in a cache file and a stream under way waits for one
// of its parts to finish uploading, so many writers hold about that half, not N × chunk_size ×
// (upload_concurrency + 2). Reads get the rest: whatever the streams do not hold right now. When
// a stream takes a buffer, the read cache is cut down to what is left at once (its eviction
// order: data read past first, read-ahead last), and a reader's read-ahead is a quarter of the
// read share, so reads shrink their read-ahead while writers are busy and grow it back after.
// With no writer, reads have the whole budget; with no reader, writers have half of it.
//
// Why half for writers: a part buffer cannot be dropped and fetched again as a read block can,
// so the writers' share is the part of the budget that is really held; the other half keeps
// reads from being starved to nothing by writers (a reader with no room re-downloads). And the
// process's RSS follows the writers' share more than the number: 20 parallel writers of 64 MiB
// peaked at 231 MiB RSS with 128 MiB for streams and at 388 MiB with 256 (freed part buffers
// are external memory that V8 reclaims late), and went no faster.
//
// Above the budget by design, and so said in the README: each stream may hold one buffer when
// the budget is full (a stream holding none never waits: every writer makes progress), and the
// block being filled by each download (at most 1 MiB per GET in flight).
import { BlockCache } from './read/block-cache.js';
import { StreamMemory } from './write/stream.js';

export class MemoryBudget {
  /** downloaded blocks of every open file */
  readonly blocks: BlockCache;
  /** part buffers of every streamed upload */
  readonly streams: StreamMemory;

  constructor(readonly limit: number) {
    this.blocks = new BlockCache(limit);
    this.streams = new StreamMemory(Math.floor(limit / 2), (held) => this.blocks.setShare(limit - held));
  }

  /** file data in memory now */
  get bytes(): number {
    return this.blocks.usedBytes + this.streams.bytes;
  }

  /** the most one stream needs to run at full speed, past the writers' share: worth a warning */
  streamShortfall(partSize: number, uploadConcurrency: number): number {
    return Math.max(0, partSize * (uploadConcurrency + 2) - this.streams.budget);
  }
}
