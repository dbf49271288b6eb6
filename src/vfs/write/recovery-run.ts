// Carrying out the recovery plan (recovery.ts) at mount time: clean copies become cached copies
// again, finished journals are removed, and every pending upload is checked against the server
// (one HEAD, --transfers at a time) before it goes up; until then it is "verifying" and no
// upload of it runs. A conflict keeps both versions: ours goes up under a conflict name.
import fs from 'node:fs/promises';
import path from 'node:path';
import type { ObjectInfo } from '../../backend/s3/types.js';
import type { Logger } from '../../util/log.js';
import type { MountedBucket } from '../bucket.js';
import type { Clock } from '../clock.js';
import type { Item } from './item.js';
import type { Journal } from './journal.js';
import { conflictName } from './conflicts.js';
import { planRecovery, readCacheDir, verdict, type PlanContext } from './recovery.js';

/** What recovery needs of the write-back layer. */
export interface RecoveryHost {
  dir: string;
  bucket: MountedBucket;
  log: Logger;
  clock: Clock;
  keepsClean(): boolean;
  planContext: Omit<PlanContext, 'keepsClean'>;
  /** an item for a journal */
  item(rel: string, j: Journal): Item;
  /** keep a clean copy found in the cache (false: there is one for that path already) */
  keepClean(item: Item): Promise<boolean>;
  /** a pending item joins the write-back layer */
  adopt(item: Item): void;
  /** `item` left the path `from` (diverted to a conflict name) */
  moved(item: Item, from: string): void;
  alreadyUploaded(item: Item, head: ObjectInfo): Promise<void>;
  upload(item: Item): void;
  /** the check failed: try it again after a backoff */
  retryLater(item: Item): void;
  /** run a request in an upload slot */
  limit<R>(task: () => Promise<R>): Promise<R>;
}

export class Recovery {
  /** recovered items not yet checked against the server */
  private readonly unverified = new Set<Item>();
  private readonly checks = new Set<Promise<void>>();

  constructor(private readonly h: RecoveryHost) {}

  isVerifying(item: Item): boolean {
    return this.unverified.has(item);
  }

  /** every check started so far has ended */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.checks]);
  }

  async run(): Promise<void> {
    const h = this.h;
    const plan = planRecovery(await readCacheDir(h.dir), { ...h.planContext, keepsClean: h.keepsClean() });
    for (const name of plan.unreadable) {
      const data = path.join(h.dir, `${name.slice(0, -'.json'.length)}.data`);
      h.log.error(
        `${path.join(h.dir, name)}: damaged, or not a journal this version understands: nothing is uploaded from it (the object stays as it was); the bytes written may be in ${data}: copy them out if you need them, then remove both files to stop this message`,
      );
    }
    for (const j of plan.torn) {
      h.log.error(
        `${j.path}: written before the machine restarted and never fsync'd, so its data may be torn: not uploaded; kept in ${path.join(h.dir, j.id)}.data`,
      );
    }
    for (const j of plan.missingData)
      h.log.error(`${j.path}: pending upload found in the cache, but its data file ${j.id}.data is missing: cannot be uploaded`);
    for (const { journal: j, size, need } of plan.shortData)
      h.log.error(
        `${j.path}: pending upload found in the cache, but its data file ${path.join(h.dir, `${j.id}.data`)} holds ${size} bytes where ${need} were written (the disk lost the rest): not uploaded, so no bytes nobody wrote reach the bucket, whose object stays as it was; the file is left for you to look at (remove it and ${j.id}.json to stop this message)`,
      );
    for (const j of plan.clean) await this.keepClean(j);
    for (const name of plan.remove) await fs.rm(path.join(h.dir, name), { force: true });
    const found: Item[] = [];
    for (const j of plan.pending) {
      const rel = h.bucket.relOf(j.path);
      if (rel === null) {
        h.log.notice(`${j.path}: a pending upload of a mount of another folder of this bucket; left for that mount`);
        continue;
      }
      const item = h.item(rel, j);
      await item.writeJournal('dirty', true);
      h.adopt(item);
      found.push(item);
    }
    if (plan.busy > 0) {
      h.log.notice(
        `${plan.busy} cache item(s) in ${h.dir} belong to another running mount of this remote, which uploads them; left alone (give this mount a --cache-dir of its own not to share one)`,
      );
    }
    if (found.length === 0) return;
    h.log.notice(`${found.length} file(s) written before the previous mount ended were not uploaded yet: uploading them now (${h.dir})`);
    for (const item of found) {
      this.unverified.add(item);
      this.verify(item);
    }
  }

  private async keepClean(j: Journal): Promise<void> {
    const rel = this.h.bucket.relOf(j.path);
    const item = rel === null ? null : this.h.item(rel, j);
    if (item && (await this.h.keepClean(item))) return;
    await fs.rm(path.join(this.h.dir, `${j.id}.data`), { force: true });
    await fs.rm(path.join(this.h.dir, `${j.id}.json`), { force: true });
  }

  /** Check a recovered item against the server, then upload it (or retry the check later). */
  verify(item: Item): void {
    const p: Promise<void> = this.check(item).finally(() => this.checks.delete(p));
    this.checks.add(p);
  }

  private async check(item: Item): Promise<void> {
    const h = this.h;
    let head: ObjectInfo | null;
    try {
      head = await h.limit(() => h.bucket.head(item.rel));
    } catch (err) {
      h.log.error(`${item.rel}: cannot check the server before uploading the pending version: ${(err as Error).message}; trying again later`);
      h.retryLater(item);
      return;
    }
    const v = verdict(item, head);
    if (v === 'uploaded' && head) {
      h.log.info(`${item.rel}: already uploaded`);
      this.unverified.delete(item);
      await h.alreadyUploaded(item, head);
      return;
    }
    if (v === 'conflict') await this.divert(item);
    this.unverified.delete(item);
    h.upload(item);
  }

  private async divert(item: Item): Promise<void> {
    const h = this.h;
    const from = item.rel;
    const to = conflictName(from, new Date(h.clock.now()));
    h.log.error(
      `${h.bucket.keyOf(from)}: changed on the server since it was written here (and not uploaded before the mount ended); the server's version stays, the version written here is uploaded as ${h.bucket.keyOf(to)}`,
    );
    h.moved(item, from);
    await item.divert(to);
    h.adopt(item);
  }
}
