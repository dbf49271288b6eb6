// Crash recovery: what the journals a previous run left in the cache directory mean.
//
// readCacheDir() reads the directory; planRecovery() turns what it found into a plan (pure: no
// I/O, so every case is unit-testable); the write-back layer carries the plan out. After that,
// each pending upload is checked against the server before it goes up (verdict()), because the
// object may have changed since it was written here.
import fs from 'node:fs/promises';
import path from 'node:path';
import type { ObjectInfo } from '../../backend/s3/types.js';
import { parseJournal, type Journal, type JournalServer, type Owner } from './journal.js';

/** One file of the cache directory, as read at mount time. */
export interface CacheDirEntry {
  name: string;
  /** the text of a journal (`*.json`); undefined for other files, '' when unreadable */
  text?: string;
  /** for a journal: whether its data file exists, and its size */
  dataExists?: boolean;
  dataSize?: number;
}

export interface RecoveryPlan {
  /** dirty journals: uploads to finish */
  pending: Journal[];
  /** clean journals whose data file is kept as a cached copy */
  clean: Journal[];
  /** files to delete (names in the directory): finished journals and their data, orphans */
  remove: string[];
  /** journals this version cannot read (left alone, reported) */
  unreadable: string[];
  /** dirty journals whose data file is missing (cannot be uploaded, reported) */
  missingData: Journal[];
  /** dirty journals whose data file is shorter than the bytes the journal says it holds (the
   *  disk lost them: never uploaded, or the bucket would get zeros nobody wrote; reported). A
   *  truncate journals the shorter file first (Item.truncate), so this is not one of ours. */
  shortData: Array<{ journal: Journal; size: number; need: number }>;
  /** items of another running mount (left alone) */
  busy: number;
  /** dirty journals written without fsync before the machine restarted: their data may be
   *  torn, so they are not uploaded (left in place, reported) */
  torn: Journal[];
}

export interface PlanContext {
  bucket: string;
  /** clean copies are kept (a cache mode and limits that allow them) */
  keepsClean: boolean;
  isOurs(o: Owner | undefined): boolean;
  ownerAlive(o: Owner | undefined): boolean;
  /** this boot of the machine (journal.ts bootId) */
  boot: string;
}

export async function readCacheDir(dir: string): Promise<CacheDirEntry[]> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const present = new Set(names);
  return Promise.all(
    names.map(async (name): Promise<CacheDirEntry> => {
      if (!name.endsWith('.json')) return { name };
      const text = await fs.readFile(path.join(dir, name), 'utf8').catch(() => '');
      const data = `${name.slice(0, -'.json'.length)}.data`;
      if (!present.has(data)) return { name, text, dataExists: false };
      const st = await fs.stat(path.join(dir, data)).catch(() => null);
      return { name, text, dataExists: st !== null, ...(st ? { dataSize: st.size } : {}) };
    }),
  );
}

/** data files and temporary journal files: `<pid>.<start>.<random>.data|json.tmp-<hex>` */
const LOOSE_FILE = /^((\d+)\.([^.]+)\.[0-9a-f]+)\.(data|json\.tmp-[0-9a-f]+)$/;

/** the end of the last byte range the journal says its data file holds */
function presentEnd(j: Journal): number {
  let end = 0;
  for (const r of j.present) end = Math.max(end, r[1]);
  return end;
}

export function planRecovery(entries: CacheDirEntry[], ctx: PlanContext): RecoveryPlan {
  const plan: RecoveryPlan = { pending: [], clean: [], remove: [], unreadable: [], missingData: [], shortData: [], busy: 0, torn: [] };
  const journaled = new Set<string>();
  for (const e of entries) {
    if (e.text === undefined) continue;
    const id = e.name.slice(0, -'.json'.length);
    journaled.add(id);
    const j = parseJournal(e.text);
    if (!j || j.bucket !== ctx.bucket) {
      plan.unreadable.push(e.name);
      continue;
    }
    if (ctx.isOurs(j.owner)) continue;
    if (ctx.ownerAlive(j.owner)) {
      plan.busy++;
      continue;
    }
    if (j.unsynced !== undefined && j.unsynced !== ctx.boot) {
      // closed but never fsync'd, and the machine restarted since: a clean copy is dropped, a
      // pending upload kept aside (POSIX gives no promise here; we never upload torn data)
      if (j.state === 'dirty') plan.torn.push(j);
      else plan.remove.push(`${id}.data`, e.name);
    } else if (j.state === 'clean' && ctx.keepsClean && j.base && j.present.length > 0 && e.dataExists) {
      plan.clean.push(j);
    } else if (j.state !== 'dirty') {
      plan.remove.push(`${id}.data`, e.name);
    } else if (j.present.length > 0 && !e.dataExists) {
      plan.missingData.push(j);
    } else if (e.dataSize !== undefined && e.dataSize < presentEnd(j)) {
      plan.shortData.push({ journal: j, size: e.dataSize, need: presentEnd(j) });
    } else plan.pending.push(j);
  }
  // data files whose journal never came (an item never flushed) of processes that are gone
  for (const e of entries) {
    const m = LOOSE_FILE.exec(e.name);
    if (!m || (m[4] === 'data' && journaled.has(m[1]!))) continue;
    if (ctx.ownerAlive({ pid: Number(m[2]), start: m[3]! })) continue;
    plan.remove.push(e.name);
  }
  return plan;
}

/**
 * A recovered upload against what the server holds now (`head`):
 *  - 'uploaded'  our upload landed before the crash (same size and stored mtime); only the
 *                journal did not say so;
 *  - 'conflict'  someone else changed the object since it was written here: keep both;
 *  - 'upload'    go ahead.
 */
export function verdict(
  item: { size: number; mtimeNs: bigint; server: JournalServer | null | 'unknown' },
  head: ObjectInfo | null,
): 'uploaded' | 'conflict' | 'upload' {
  if (head && head.size === item.size && head.mtimeNs !== null && head.mtimeNs === item.mtimeNs) return 'uploaded';
  const exp = item.server;
  if (exp === null) return head !== null ? 'conflict' : 'upload';
  if (exp === 'unknown' || head === null) return 'upload';
  // the same version: its ETag, or, where our own server-side copy left the ETag unknown (''),
  // its size and stored mtime. A known ETag that changed is another version, whatever its size.
  const same = head.etag === exp.etag || (exp.etag === '' && head.size === exp.size && head.mtimeNs !== null && String(head.mtimeNs) === exp.mtimeNs);
  return same ? 'upload' : 'conflict';
}
