// What holds the bytes of one file being written: exactly one of these at a time, each carrying
// only what exists in that state, so no code can reach a stream's buffer of a cache file or
// the other way round.
//
//  stream   written from offset 0 onwards (create, O_TRUNC, truncate to 0, or an empty object):
//           bytes go into a StreamUpload (stream.ts) and up to the bucket as parts fill, or, for
//           a file smaller than one part, into one PUT (or the cache, with write-back) at close.
//           Rewrites, reads and truncates of bytes not yet handed to the backend are served from
//           its buffer; a forward gap up to MAX_STREAM_GAP is filled with zeros.
//  cache    a local cache file (cache-file.ts): sparse data, the ranges it holds, and the base
//           object for the rest. Uploaded whole, as one PUT or a multipart upload of known size.
//  broken   a stream whose upload failed or was refused: its bytes are gone, every operation
//           reports `error`; the item is forgotten when its last handle closes.
//
// A file only moves stream → cache (or → broken), and cache → stream only when it is empty and
// independent of any object again (truncated to 0, or created and flushed before its first write).
import type { CacheFile } from './cache-file.js';
import type { StreamUpload } from './stream.js';

export type Content =
  /** `spill`: the data file a flush with write-back persists the unsent buffer to */
  | { readonly kind: 'stream'; readonly stream: StreamUpload; readonly spill: CacheFile }
  | { readonly kind: 'cache'; readonly file: CacheFile }
  /** `size`: what the file had reached when it broke (open handles still fstat it) */
  | { readonly kind: 'broken'; readonly error: Error; readonly size: number };

const MiB = 1024 * 1024;
/** a write this far past the end of a stream is filled with zeros; further, the file goes to the cache */
export const MAX_STREAM_GAP = 64 * MiB;
/** cache files up to this size are read into memory for their upload (one PUT with Content-MD5) */
export const SMALL_UPLOAD = 16 * MiB;

export function contentSize(c: Content): number {
  switch (c.kind) {
    case 'stream':
      return c.stream.size;
    case 'cache':
      return c.file.size;
    case 'broken':
      return c.size;
  }
}

/** bytes of the file held locally (stream buffers or cache data) */
export function localBytes(c: Content): number {
  switch (c.kind) {
    case 'stream':
      return c.stream.bufferBytes;
    case 'cache':
      return c.file.localBytes;
    case 'broken':
      return 0;
  }
}
