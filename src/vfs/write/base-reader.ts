// Cache files read their base object through the read path's download engine (ranged GETs,
// growing windows, read-ahead, retries, If-Match on the pinned ETag, shared blocks): one engine
// for reads and for cache-file fills. This adapter pins the base version strictly (it follows
// only our own renames) and turns "that version is gone" into a BaseGoneError.
import type { Logger } from '../../util/log.js';
import { FileReader, isGoneError, type PinnedVersion, type ReadCache } from '../read/reader.js';
import { BaseGoneError, type BaseReader } from './cache-file.js';
import type { JournalBase } from './journal.js';

export function baseReaders(
  reads: ReadCache,
  /** a fresh HEAD of a mount path; null when nothing is there */
  refresh: (rel: string) => Promise<PinnedVersion | null>,
  log: Logger,
): (rel: string, base: Readonly<JournalBase>) => BaseReader {
  return (rel, base) => {
    const source = reads.acquire(rel, { etag: base.etag, size: base.size });
    const reader = new FileReader(reads, source, refresh, log, { onlyOwnMoves: true, movedByUs: base.moved === true });
    return {
      async read(dst, offset, length, limit) {
        try {
          return await reader.read(dst, offset, length, limit);
        } catch (err) {
          if (!isGoneError(err)) throw err;
          throw new BaseGoneError(
            `${rel}: the object changed on the server since this file was opened for writing; the bytes not written here (${offset}-${offset + length}) cannot be read any more`,
            err,
          );
        }
      },
      get etag() {
        return reader.etag;
      },
      close: () => reader.close(),
    };
  };
}
