// How much to download, decided from how a file is being read. Pure functions, unit-tested.
//
// - A read that does not continue the previous one (random access, or the first read of a
//   handle) downloads exactly the requested range: a 4 KiB read at a random offset costs about
//   4 KiB, never a chunk.
// - Once reads continue one another (sequential), a streaming GET takes over. Its ranges start
//   small and double with every GET, each about twice the bytes read sequentially so far, until
//   they reach --vfs-read-chunk-size; from there rclone's chunked reading applies: the chunk
//   doubles after each chunk up to --vfs-read-chunk-size-limit ('off' = keeps doubling, as in
//   rclone), and a chunk size of 0 means one GET to the end of the file. Starting small bounds
//   what a short sequential burst can waste when the reader stops; doubling keeps the number of
//   GETs of a large file logarithmic.
// - The stream runs at most `aheadLimit` bytes ahead of the furthest byte asked for:
//   --buffer-size + --vfs-read-ahead, reached the same way (twice the sequential run so far).

export const MIN_STREAM_GET = 256 * 1024;
const UNCHUNKED_RAMP_END = 64 * 1024 * 1024;
/** reads within this distance of the previous read's end still count as sequential
 *  (the kernel's concurrent readahead requests arrive slightly out of order) */
export const SEQUENTIAL_WINDOW = 1024 * 1024;

export interface ChunkSettings {
  chunkSize: number; // 0 = unchunked
  chunkSizeLimit: number; // -1 = off
  bufferSize: number;
  readAhead: number;
}

/** Size of the next streaming GET, given the previous one (0 for the first) and the sequential run so far. */
export function nextGetSize(s: ChunkSettings, previous: number, runBytes: number, remaining: number): number {
  let size: number;
  if (s.chunkSize <= 0) {
    // unchunked: the same ramp, then one GET for all the rest
    size = previous >= UNCHUNKED_RAMP_END ? remaining : Math.max(MIN_STREAM_GET, previous * 2, 2 * runBytes);
  } else if (previous < s.chunkSize) {
    // ramp towards the chunk size
    size = Math.min(s.chunkSize, Math.max(MIN_STREAM_GET, previous * 2, 2 * runBytes));
  } else {
    // rclone's chunk growth
    const limit = s.chunkSizeLimit;
    if (limit < 0) size = previous * 2;
    else if (limit > previous) size = Math.min(limit, previous * 2);
    else size = previous;
  }
  return Math.max(1, Math.min(size, remaining));
}

/** How far the stream may run ahead of the furthest byte asked for. */
export function aheadLimit(s: ChunkSettings, runBytes: number): number {
  const max = Math.max(MIN_STREAM_GET, s.bufferSize + s.readAhead);
  return Math.min(max, Math.max(MIN_STREAM_GET, 2 * runBytes));
}

/** Per-handle access pattern tracker. */
export class AccessPattern {
  /** end of the previous read request, -1 before the first */
  private lastEnd = -1;
  /** bytes read in the current sequential run */
  runBytes = 0;

  /** Record a read request; true when it continues the previous one. */
  observe(offset: number, length: number): boolean {
    const sequential = this.lastEnd >= 0 && offset >= this.lastEnd - SEQUENTIAL_WINDOW && offset <= this.lastEnd + SEQUENTIAL_WINDOW;
    if (sequential) this.runBytes += length;
    else this.runBytes = length;
    // out-of-order requests of a sequential run must not move the end backwards
    this.lastEnd = sequential ? Math.max(this.lastEnd, offset + length) : offset + length;
    return sequential;
  }
}
