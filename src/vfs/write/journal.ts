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
import { close, closeSync, open, openSync, readFileSync, renameSync, rm, rmSync, writeSync } from 'node:fs';
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

function tempName(file: string): string {
  return `${file}.tmp-${TMP_PREFIX}${(++tmpSeq).toString(16)}`;
}

/** a temporary journal file made ahead, open for writing */
interface TempFile {
  path: string;
  fd: number;
}

/** Durably replace `file` with `text`: temp file, fsync, rename, fsync of the directory. */
export async function writeFileAtomic(file: string, text: string, durable = true): Promise<void> {
  const tmp = tempName(file);
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

/**
 * writeFileAtomic without fsync, in place: four system calls on the main thread instead of four
 * round trips through libuv's thread pool, each of which costs more than the call (close(2) of
 * every small file written pays for one journal write).
 */
export function writeFileAtomicUnsynced(file: string, text: string, made?: TempFile): void {
  const tmp = made?.path ?? tempName(file);
  try {
    const fd = made?.fd ?? openSync(tmp, 'w', 0o600);
    try {
      const buf = Buffer.from(text);
      for (let done = 0; done < buf.length;) done += writeSync(fd, buf, done, buf.length - done);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

/** temporary files made ahead and not used yet, in this process */
let madeAhead = 0;
const MAX_MADE_AHEAD = 64;

/** close and remove a temporary file made ahead that no write will use */
function discardTemp(t: TempFile): void {
  close(t.fd, () => rm(t.path, { force: true }, () => undefined));
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

  /** writes queued and not done */
  private queued = 0;
  /** the temporary file of the first write, made ahead (prepare()) */
  private made: TempFile | undefined;
  private making = false;

  constructor(
    readonly path: string,
    private readonly ensureDir: () => Promise<void>,
    state: Journal['state'] | 'none' = 'none',
    /** the cache directory exists (a write may then go in place) */
    private readonly dirMade: () => boolean = () => false,
  ) {
    this.current = state;
  }

  get state(): Journal['state'] | 'none' {
    return this.current;
  }

  /** Write `record` (its state becomes this file's state at once); durable: fsync'd before it resolves. */
  /**
   * Make the temporary file of the first write now, in the background (a new file's journal is
   * written at its close: creating a file is the slow part of that, 0.02-0.3 ms on the disks
   * measured, several times the write and the rename). Not for more than MAX_MADE_AHEAD files at
   * once (each holds a descriptor); a failure is left to the write, which makes its own.
   */
  prepare(): void {
    if (this.current !== 'none' || this.made || this.making || madeAhead >= MAX_MADE_AHEAD) return;
    this.making = true;
    madeAhead++;
    const tmp = tempName(this.path);
    void this.ensureDir()
      .then(
        () =>
          new Promise<void>((resolve) =>
            open(tmp, 'w', 0o600, (err, fd) => {
              if (!err) {
                if (this.closed || this.current !== 'none') discardTemp({ path: tmp, fd });
                else this.made = { path: tmp, fd };
              }
              resolve();
            }),
          ),
      )
      .catch(() => undefined)
      .finally(() => {
        this.making = false;
        if (!this.made) madeAhead--;
      });
  }

  /** the temporary file made ahead, taken for a write (or to be dropped) */
  private takeMade(): TempFile | undefined {
    const m = this.made;
    if (m) {
      this.made = undefined;
      madeAhead--;
    }
    return m;
  }

  write(record: Journal, durable: boolean): Promise<void> {
    this.current = record.state;
    const made = this.takeMade();
    if (!durable && this.queued === 0 && !this.closed && this.dirMade()) {
      // nothing before it to wait for: a journal of a few hundred bytes written in place
      try {
        writeFileAtomicUnsynced(this.path, JSON.stringify(record), made);
        return Promise.resolve();
      } catch (err) {
        return Promise.reject(err as Error);
      }
    }
    if (made) discardTemp(made);
    this.queued++;
    const p = this.queue
      .then(async () => {
        if (this.closed) return;
        await this.ensureDir();
        await writeFileAtomic(this.path, JSON.stringify(record), durable);
      })
      .finally(() => this.queued--);
    this.queue = p.catch(() => undefined);
    return p;
  }

  /** Remove the journal once pending writes are done; later writes are skipped. */
  async remove(): Promise<void> {
    this.closed = true;
    const made = this.takeMade();
    if (made) discardTemp(made);
    await this.queue;
    await fs.rm(this.path, { force: true });
    this.current = 'none';
  }

  /** wait for the writes queued so far */
  settled(): Promise<void> {
    return this.queue;
  }
}
