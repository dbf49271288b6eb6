// The on-disk journal of one cache item: a small JSON file next to its data file, rewritten
// atomically (write a temporary file, fsync it, rename it over the old one, fsync the
// directory), so after a crash each item is either in its previous or its new state, never in
// between. It is what the next mount reads to find uploads that were pending.
//
//   <cache-dir>/vfs/<remote>/<bucket>/<id>.data   the file's bytes (sparse; only `present` is valid)
//   <cache-dir>/vfs/<remote>/<bucket>/<id>.json   this journal
//
// States:
//   dirty      the content (size, present ranges of the data file, plus the base object for the
//              ranges not present) must be uploaded to `path`; recovered at the next mount
//   clean      the data file holds bytes of the object `server.etag` (kept as a read cache)
//   modifying  a clean item is being changed and was not flushed since: after a crash its data
//              file is not trustworthy and the object on the server is the truth (nothing to do)
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Range } from './ranges.js';

export const JOURNAL_VERSION = 1;

export interface JournalServer {
  etag: string;
  size: number;
  /** X-Amz-Meta-Mtime of that object, as a decimal string of nanoseconds; null when absent */
  mtimeNs: string | null;
}

export interface JournalBase {
  etag: string;
  size: number;
  /** bytes below this that are not present come from the base object; above it they are zeros */
  limit: number;
  /** X-Amz-Meta-Mtime of the base object (decimal nanoseconds): with the size, recognises it under a new ETag */
  mtimeNs?: string | null;
  /** the base object was moved by a rename of ours: a new ETag with the same size is the same bytes */
  moved?: boolean;
}

export interface Journal {
  v: number;
  id: string;
  /** the remote as named on the command line (for messages and for matching the next mount) */
  remote: string;
  bucket: string;
  /** logical path in the bucket (not mount-relative) */
  path: string;
  owner: Owner;
  state: 'dirty' | 'clean' | 'modifying';
  size: number;
  /** nanoseconds since the epoch, as a decimal string (JSON has no bigint) */
  mtimeNs: string;
  base: JournalBase | null;
  present: Range[];
  /**
   * What we believe the server holds at `path`: an object, nothing (null), or unknown. A recovery
   * that finds something else there (not our own upload) keeps both versions.
   */
  server: JournalServer | null | 'unknown';
  updated: string;
  /**
   * Written without fsync (at close(2), which POSIX does not make durable): the boot it was
   * written in. Its data survives a crash of the mount process (the kernel still has it), but
   * after a restart of the machine it may be torn: it is then not trusted (bootId()).
   */
  unsynced?: string;
  /** permission bits and owners set by chmod/chown and not stored yet: uploaded with the data */
  posix?: { perm?: number; uid?: number; gid?: number; atimeNs?: string };
}

/** One mount process: its pid and start time (pids are reused; the pair is not). */
export interface Owner {
  pid: number;
  start: string;
}

function procStart(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the command name (field 2) is in parentheses and may contain spaces: count after it
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // a killed process its parent has not reaped yet (a zombie, or one being torn down) still
    // answers kill(pid, 0), but runs no mount: its items are to be recovered
    if (rest[0] === 'Z' || rest[0] === 'X') return 'dead';
    return rest[19] ?? null; // field 22, starttime
  } catch {
    return null;
  }
}

let boot: string | undefined;
/** This boot of the machine (the kernel's random boot id). */
export function bootId(): string {
  if (boot === undefined) {
    try {
      boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    } catch {
      boot = 'unknown';
    }
  }
  return boot;
}

let me: Owner | undefined;
export function currentOwner(): Owner {
  me ??= { pid: process.pid, start: procStart(process.pid) ?? String(Date.now()) };
  return me;
}

/** Whether the process that owns a journal is still running (and is not us). */
export function ownerAlive(o: Owner | undefined): boolean {
  if (!o || typeof o.pid !== 'number') return false;
  const self = currentOwner();
  if (o.pid === self.pid && o.start === self.start) return true;
  try {
    process.kill(o.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const start = procStart(o.pid);
  return start === null ? true : start === o.start;
}

export function isOurs(o: Owner | undefined): boolean {
  const self = currentOwner();
  return !!o && o.pid === self.pid && o.start === self.start;
}

// temporary names: unique in this process by the counter, across processes by the prefix
// (crypto's random bytes cost 30 µs a call here, a close(2) pays for them every time)
const TMP_PREFIX = randomBytes(3).toString('hex');
let tmpSeq = 0;

/** Durably replace `file` with `text`: temp file, fsync, rename, fsync of the directory. */
export async function writeFileAtomic(file: string, text: string, durable = true): Promise<void> {
  const tmp = `${file}.tmp-${TMP_PREFIX}${(++tmpSeq).toString(16)}`;
  try {
    const fh = await fs.open(tmp, 'w', 0o600);
    try {
      await fh.writeFile(text);
      if (durable) await fh.sync();
    } finally {
      await fh.close();
    }
    await fs.rename(tmp, file);
  } catch (err) {
    // a full disk must not fill up with half-written journals either
    await fs.rm(tmp, { force: true }).catch(() => undefined);
    throw err;
  }
  if (durable) await syncDir(path.dirname(file));
}

export async function syncDir(dir: string): Promise<void> {
  const dh = await fs.open(dir, 'r');
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}

export function parseJournal(text: string): Journal | null {
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch {
    return null;
  }
  if (!j || typeof j !== 'object') return null;
  const o = j as Partial<Journal>;
  if (o.v !== JOURNAL_VERSION || typeof o.id !== 'string' || typeof o.path !== 'string' || typeof o.bucket !== 'string') return null;
  if (o.state !== 'dirty' && o.state !== 'clean' && o.state !== 'modifying') return null;
  if (!Number.isSafeInteger(o.size) || typeof o.mtimeNs !== 'string' || !/^-?\d+$/.test(o.mtimeNs)) return null;
  return o as Journal;
}

/**
 * The journal file of one item: writes go out one after another (a later state never lands
 * before an earlier one), each atomically. `state` is what the last write said ('none': there
 * is no journal file).
 */
export class JournalFile {
  private queue: Promise<void> = Promise.resolve();
  private current: Journal['state'] | 'none';
  /** set once the item is gone: queued writes are skipped, so no journal outlives its item */
  private closed = false;

  constructor(
    readonly path: string,
    private readonly ensureDir: () => Promise<void>,
    state: Journal['state'] | 'none' = 'none',
  ) {
    this.current = state;
  }

  get state(): Journal['state'] | 'none' {
    return this.current;
  }

  /** Write `record` (its state becomes this file's state at once); durable: fsync'd before it resolves. */
  write(record: Journal, durable: boolean): Promise<void> {
    this.current = record.state;
    const p = this.queue.then(async () => {
      if (this.closed) return;
      await this.ensureDir();
      await writeFileAtomic(this.path, JSON.stringify(record), durable);
    });
    this.queue = p.catch(() => undefined);
    return p;
  }

  /** Remove the journal once pending writes are done; later writes are skipped. */
  async remove(): Promise<void> {
    this.closed = true;
    await this.queue;
    await fs.rm(this.path, { force: true });
    this.current = 'none';
  }

  /** wait for the writes queued so far */
  settled(): Promise<void> {
    return this.queue;
  }
}
