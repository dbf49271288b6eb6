// How much to download, decided from how a file is being read. Pure functions, unit-tested.
//
// - A read that does not continue a sequential run (random access) downloads about the bytes
//   it asked for: a 4 KiB read at a random offset costs about 4 KiB, never a chunk.
// - A run is sequential once reads continue one another: each starts at or a little after the
//   end of the run so far (forward by at most max(its length, 128 KiB)). A read *behind* a run
//   never continues it. A stream (one growing GET after another, see below) starts only on the
//   second read that continues a run (three reads in a row), or on the first read at offset 0
//   (most opens read from the start: `cat`, `cp`, `dd` must not wait for three round trips).
// - The kernel sends the pieces of one large read (and its read-ahead) concurrently, and
//   libfuse's threads hand them to us in any order. A run that is clearly sequential already
//   (two continuations) is continued by a read up to ESTABLISHED_GAP past its end; a late piece
//   inside a run neither continues nor breaks it (its bytes count as consumed). A handle tracks
//   a few runs at once, so a piece landing ahead of a young run starts a run of its own, and
//   the runs merge when the pieces between them arrive.
// - A stream's GETs start small and double, each at most STREAM_GET_FACTOR times the bytes the
//   reader has consumed so far (so a false detection or a reader that stops early wastes little),
//   until they reach --vfs-read-chunk-size; from there rclone's chunked reading applies: the
//   chunk doubles after each chunk up to --vfs-read-chunk-size-limit ('off' = keeps doubling, as
//   in rclone), and a chunk size of 0 means one GET to the end of the file once the ramp is done.
// - The stream runs at most `aheadLimit` bytes ahead of what its reader asked for:
//   --buffer-size + --vfs-read-ahead, reached the same way (twice the bytes consumed so far).

export const MIN_STREAM_GET = 256 * 1024;
const UNCHUNKED_RAMP_END = 64 * 1024 * 1024;
/** a read continues a run when it starts at most this far (or its own length) past the run's end */
export const SEQUENTIAL_GAP = 128 * 1024;
/** once a run is clearly sequential (two continuations), a read up to this far past its end
 *  still continues it: the pieces of one large read, and the kernel's read-ahead, are sent
 *  concurrently (max_background requests of up to max_read bytes) and arrive in any order */
export const ESTABLISHED_GAP = 2 * 1024 * 1024;
/** how many runs a handle tracks at once (out-of-order pieces, interleaved readers of one handle) */
export const TRACKED_RUNS = 4;
/** a stream GET is at most this many times what its reader has consumed (at least MIN_STREAM_GET) */
export const STREAM_GET_FACTOR = 4;
/** random reads are rounded out to this alignment (the page size: kernel reads already are) */
export const RANDOM_ALIGN = 4096;

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

/**
 * The GET a stream makes next: nextGetSize(), but never more than STREAM_GET_FACTOR times what
 * the reader consumed (`consumed`), so the size follows the reader, not the stream's own progress.
 * (Unchunked reading keeps its single GET for the rest once the ramp is done.)
 */
export function streamGetSize(s: ChunkSettings, previous: number, consumed: number, remaining: number): number {
  const size = nextGetSize(s, previous, consumed, remaining);
  if (s.chunkSize <= 0 && previous >= UNCHUNKED_RAMP_END) return size;
  return Math.max(1, Math.min(size, Math.max(MIN_STREAM_GET, STREAM_GET_FACTOR * consumed)));
}

/** How far the stream may run ahead of the furthest byte asked for (`runBytes`: bytes consumed). */
export function aheadLimit(s: ChunkSettings, runBytes: number): number {
  const max = Math.max(MIN_STREAM_GET, s.bufferSize + s.readAhead);
  return Math.min(max, Math.max(MIN_STREAM_GET, 2 * runBytes));
}

/** [start, end) of a random read rounded out to RANDOM_ALIGN, within [0, size). */
export function alignRandom(start: number, end: number, size: number): [number, number] {
  const a = Math.floor(start / RANDOM_ALIGN) * RANDOM_ALIGN;
  const b = Math.min(size, Math.ceil(end / RANDOM_ALIGN) * RANDOM_ALIGN);
  return [a, Math.max(b, end)];
}

interface Run {
  start: number;
  /** furthest end of any read of the run */
  end: number;
  /** reads that continued the run (forward) */
  continued: number;
  /** bytes the reader consumed in the run */
  bytes: number;
  /** last use, for replacing the least recently used run */
  used: number;
}

/** Per-handle access pattern tracker. */
export class AccessPattern {
  private readonly runs: Run[] = [];
  private clock = 0;
  /** bytes read in the run of the last read */
  runBytes = 0;
  /** the last read should be served by a stream (and read ahead) */
  stream = false;
  /** the last read belongs to an established sequential run (forward or a late piece inside it) */
  scan = false;

  /**
   * Record a read request; true when it continues a run (forward, or a late piece inside it).
   * Afterwards `stream`, `scan` and `runBytes` describe the read.
   */
  observe(offset: number, length: number): boolean {
    const now = ++this.clock;
    const end = offset + length;
    // forward: at or a little after the end of a run
    let run: Run | undefined;
    for (const r of this.runs) {
      if (offset >= r.end && offset - r.end <= Math.max(length, r.continued >= 2 ? ESTABLISHED_GAP : SEQUENTIAL_GAP)) {
        if (!run || r.end > run.end) run = r;
      }
    }
    if (run) {
      run.continued++;
      run.bytes += length;
      run.end = end;
      run.used = now;
      this.mergeInto(run);
      this.describe(run, true);
      return true;
    }
    // a late piece inside a run: neither continues nor breaks it
    for (const r of this.runs) {
      if (offset >= r.start && offset < r.end) {
        // bytes of a late piece were consumed all the same (a re-read counts again: harmless)
        r.bytes += length;
        if (end > r.end) {
          r.end = end;
          this.mergeInto(r);
        }
        r.used = now;
        this.runBytes = r.bytes;
        this.stream = false;
        this.scan = established(r);
        return r.continued > 0;
      }
    }
    // a new run (replacing the least recently used one)
    const fresh: Run = { start: offset, end, continued: 0, bytes: length, used: now };
    if (this.runs.length >= TRACKED_RUNS) {
      let lru = 0;
      for (let i = 1; i < this.runs.length; i++) if (this.runs[i]!.used < this.runs[lru]!.used) lru = i;
      this.runs.splice(lru, 1);
    }
    this.runs.push(fresh);
    this.mergeInto(fresh);
    this.describe(fresh, offset === 0);
    return false;
  }

  private describe(r: Run, forward: boolean): void {
    this.runBytes = r.bytes;
    this.scan = established(r);
    this.stream = forward && this.scan;
  }

  /** Runs that `r` now reaches (or that reach `r`) become one. */
  private mergeInto(r: Run): void {
    for (let i = this.runs.length - 1; i >= 0; i--) {
      const o = this.runs[i]!;
      if (o === r) continue;
      if (o.start <= r.end && r.start <= o.end) {
        r.start = Math.min(r.start, o.start);
        r.end = Math.max(r.end, o.end);
        r.bytes += o.bytes;
        r.continued += o.continued;
        this.runs.splice(i, 1);
      }
    }
  }
}

/** A run worth streaming: three reads in a row, or two from the start of the file. */
function established(r: Run): boolean {
  return r.continued >= 2 || r.start === 0;
}
