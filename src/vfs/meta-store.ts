// Metadata that survives a remount: what HEADs told us (X-Amz-Meta-Mtime, content type, user
// metadata), kept on disk under --cache-dir and trusted for an object exactly while a listing
// still shows it with the same ETag and size, whoever changed it otherwise. A remount, or an
// `ls -l` after --dir-cache-time, of an unchanged folder then costs its LISTs and no HEAD.
//
// The file is a log of JSON lines, appended in batches off the event loop. A crash can tear the
// last line at most: lines that do not parse are skipped. At load the log is compacted (the
// newest line per key, within the age and count bounds) into a new file renamed over the old, so
// it never grows without bound. A file that cannot be read is started anew, never fatal.
import fs from 'node:fs/promises';
import path from 'node:path';
import { lruOfCount } from '../util/lru.js';
import { makeDirs } from '../util/make-dirs.js';
import type { ObjectInfo } from '../backend/s3/types.js';
import type { Logger } from '../util/log.js';

/** objects remembered at most (about 200 bytes each in memory) */
export const META_STORE_MAX_ENTRIES = 200_000;
/** entries not confirmed for this long are dropped at load */
export const META_STORE_MAX_AGE_MS = 30 * 24 * 3600 * 1000;
/** appended lines are written at most this long after they were noted */
const FLUSH_DELAY_MS = 1_000;

/** One line of the log: an object's metadata as a HEAD returned it. */
interface Line {
  k: string;
  e: string;
  s: number;
  lm: number;
  m: string | null;
  ct?: string;
  sc?: string;
  md: Record<string, string>;
  /** when it was noted (ms) */
  t: number;
}

function toLine(info: ObjectInfo, now: number): Line {
  const l: Line = {
    k: info.path,
    e: info.etag,
    s: info.size,
    lm: info.lastModified.getTime(),
    m: info.mtimeNs === null ? null : String(info.mtimeNs),
    md: info.metadata,
    t: now,
  };
  if (info.contentType) l.ct = info.contentType;
  if (info.storageClass) l.sc = info.storageClass;
  return l;
}

function fromLine(l: Line): ObjectInfo {
  const info: ObjectInfo = { path: l.k, etag: l.e, size: l.s, lastModified: new Date(l.lm), mtimeNs: l.m === null ? null : BigInt(l.m), metadata: l.md };
  if (l.ct) info.contentType = l.ct;
  if (l.sc) info.storageClass = l.sc;
  return info;
}

function parseLine(text: string): Line | null {
  try {
    const l = JSON.parse(text) as Partial<Line>;
    if (typeof l.k !== 'string' || typeof l.e !== 'string' || !Number.isSafeInteger(l.s) || typeof l.lm !== 'number' || typeof l.t !== 'number') return null;
    if (l.m !== null && (typeof l.m !== 'string' || !/^-?\d+$/.test(l.m))) return null;
    if (!l.md || typeof l.md !== 'object') return null;
    return l as Line;
  } catch {
    return null;
  }
}

function sameMetadata(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}

export class MetaStore {
  private readonly entries = lruOfCount<string, Line>(META_STORE_MAX_ENTRIES);
  private pending: string[] = [];
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();
  private broken = false;
  /** resolves once the file is loaded (and compacted); lookups before that miss */
  readonly ready: Promise<void>;

  constructor(
    readonly file: string,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.ready = this.load().catch((err) => {
      this.broken = true;
      this.log.notice(`metadata cache ${this.file}: not used: ${(err as Error).message}`);
    });
    // appends wait for the load, which may rewrite the file
    this.writing = this.ready;
  }

  /** What a HEAD said of `key`, if it still describes the object a listing shows as (etag, size). */
  get(key: string, etag: string, size: number): ObjectInfo | undefined {
    const l = this.entries.get(key);
    if (!l || l.e !== etag || l.s !== size) return undefined;
    return fromLine(l);
  }

  /** Remember what a HEAD (or our own upload) said of an object. */
  put(info: ObjectInfo): void {
    const line = toLine(info, this.now());
    const prev = this.entries.get(info.path);
    // the same version with other metadata (a chmod's copy keeps a single-part object's ETag) is news
    if (prev && prev.e === line.e && prev.s === line.s && prev.m === line.m && sameMetadata(prev.md, line.md)) return;
    this.append(line);
  }

  /**
   * What was said of `key` no longer holds, although its ETag and size may stay the same (a
   * server-side copy onto itself with new metadata): a line that matches no version replaces it.
   */
  forget(key: string): void {
    if (!this.entries.get(key)) return;
    this.append({ k: key, e: '', s: 0, lm: 0, m: null, md: {}, t: this.now() });
  }

  private append(line: Line): void {
    this.entries.set(line.k, line);
    // a file that cannot be written: this mount still remembers, the next one starts anew
    if (this.broken) return;
    this.pending.push(JSON.stringify(line));
    this.timer ??= setTimeout(() => this.flush(), FLUSH_DELAY_MS).unref();
  }

  /** Write what is pending (unmount). */
  async close(): Promise<void> {
    await this.ready;
    this.flush();
    await this.writing;
  }

  private flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.length === 0 || this.broken) return;
    const text = this.pending.join('\n') + '\n';
    this.pending = [];
    this.writing = this.writing
      .then(() => fs.appendFile(this.file, text, { mode: 0o600 }))
      .catch((err) => {
        this.broken = true;
        this.log.notice(`metadata cache ${this.file}: no longer written: ${(err as Error).message}`);
      });
  }

  /** Read the log (skipping torn or foreign lines), keep the newest line per key, write it back compacted. */
  private async load(): Promise<void> {
    await makeDirs(path.dirname(this.file), 0o700);
    let text = '';
    try {
      text = await fs.readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    const oldest = this.now() - META_STORE_MAX_AGE_MS;
    let bad = 0;
    let lines = 0;
    for (const t of text.split('\n')) {
      if (t === '') continue;
      lines++;
      const l = parseLine(t);
      if (!l) bad++;
      else if (l.t >= oldest) this.entries.set(l.k, l);
    }
    if (bad > 0) this.log.notice(`metadata cache ${this.file}: ${bad} of ${lines} lines unreadable, skipped (rebuilt)`);
    if (lines === this.entries.size && bad === 0) return;
    const tmp = `${this.file}.tmp-${process.pid}`;
    // oldest first, so that the LRU order survives the next load
    const kept = [...this.entries.rvalues()].map((l) => JSON.stringify(l)).join('\n');
    await fs.writeFile(tmp, kept ? kept + '\n' : '', { mode: 0o600 });
    await fs.rename(tmp, this.file);
  }
}
