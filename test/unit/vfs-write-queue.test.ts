// The write layer's scheduling parts on a fake clock: when uploads happen (write-back delay,
// retries with backoff, --transfers), which clean copies the cache keeps (age, size, count),
// and what a crash left behind means (the recovery plan and the conflict verdict).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { UploadQueue, MAX_RETRY_MS, SMALL_UPLOAD, SMALL_WIDTH } from '../../src/vfs/write/upload-queue.js';
import { CleanCache } from '../../src/vfs/write/clean-cache.js';
import type { Item } from '../../src/vfs/write/item.js';
import { planRecovery, verdict, type CacheDirEntry } from '../../src/vfs/write/recovery.js';
import { JOURNAL_VERSION, type Journal, type Owner } from '../../src/vfs/write/journal.js';
import type { ObjectInfo } from '../../src/backend/s3/types.js';
import { Vfs } from '../../src/vfs/vfs.js';
import { MountRoot } from '../../src/vfs/paths.js';
import { defaultVfsOptions } from '../../src/config/vfs-options.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { FakeBackend, memoryLog } from '../helpers/fake-backend.js';

const roots: string[] = [];
after(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

// --- the upload queue ------------------------------------------------------------------------

test('upload queue: a timer fires after its delay and not before; rescheduling replaces it; cancel stops it', () => {
  const clock = new FakeClock();
  const fired: string[] = [];
  const q = new UploadQueue<string>({ clock, transfers: 2, retryBaseMs: 1000, fire: (x) => fired.push(x) });
  q.schedule('a', 5000);
  q.schedule('b', 3000);
  clock.advance(4999);
  assert.deepEqual(fired, ['b']);
  q.schedule('a', 5000); // the last close of a file moves its upload
  clock.advance(4999);
  assert.deepEqual(fired, ['b']);
  clock.advance(1);
  assert.deepEqual(fired, ['b', 'a']);
  q.schedule('c', 10);
  q.cancel('c');
  assert.equal(q.isScheduled('c'), false);
  clock.advance(100);
  assert.deepEqual(fired, ['b', 'a']);
  q.schedule('d', 10);
  q.close();
  clock.advance(100);
  assert.deepEqual(fired, ['b', 'a'], 'nothing fires after close');
  assert.equal(clock.pending, 0);
});

test('upload queue: failures double the delay from the retry base, up to 5 minutes; success forgets them', () => {
  const q = new UploadQueue<string>({ clock: new FakeClock(), transfers: 1, retryBaseMs: 2000, fire: () => undefined });
  assert.deepEqual(
    [1, 2, 3, 4].map(() => q.failed('x')),
    [2000, 4000, 8000, 16000],
  );
  for (let i = 0; i < 20; i++) q.failed('x');
  assert.equal(q.failed('x'), MAX_RETRY_MS);
  q.succeeded('x');
  assert.equal(q.failureCount('x'), 0);
  assert.equal(q.failed('x'), 2000);
});

test('upload queue: at most --transfers uploads of big files at once, SMALL_WIDTH times as many of small files', async () => {
  for (const [size, width] of [
    [SMALL_UPLOAD + 1, 3],
    [SMALL_UPLOAD, 3 * SMALL_WIDTH],
  ] as const) {
    const q = new UploadQueue<number>({ clock: new FakeClock(), transfers: 3, retryBaseMs: 1000, fire: () => undefined });
    let running = 0;
    let most = 0;
    await Promise.all(
      Array.from({ length: 40 }, () =>
        q.run(size, async () => {
          running++;
          most = Math.max(most, running);
          await new Promise((r) => setImmediate(r));
          running--;
        }),
      ),
    );
    assert.equal(most, width, `uploads of ${size} bytes`);
    assert.equal(q.running, 0);
  }
});

// --- clean cached copies ---------------------------------------------------------------------

function fakeItem(clock: FakeClock, bytes: number, removed: string[], name: string): Item {
  const lastUsed = clock.now();
  return { lastUsed, localBytes: bytes, removeFiles: async () => void removed.push(name), closeData: async () => undefined } as unknown as Item;
}

test('clean cache: copies unused for --vfs-cache-max-age are removed at the next eviction, used ones stay', async () => {
  const clock = new FakeClock();
  const removed: string[] = [];
  const c = new CleanCache({ clock, maxAgeMs: 60_000, maxSize: -1 });
  await c.keep('old', fakeItem(clock, 10, removed, 'old'));
  clock.advance(30_000);
  await c.keep('new', fakeItem(clock, 10, removed, 'new'));
  clock.advance(30_001);
  await c.evict(0);
  assert.deepEqual(removed, ['old']);
  assert.equal(c.has('new'), true);
  assert.ok(c.take('new'), 'a copy taken for reuse');
  assert.deepEqual(removed, ['old'], 'taking a copy keeps its files');
});

test('clean cache: above --vfs-cache-max-size the least recently used go first, pending bytes count too', async () => {
  const clock = new FakeClock();
  const removed: string[] = [];
  const c = new CleanCache({ clock, maxAgeMs: 3_600_000, maxSize: 100 });
  for (const n of ['a', 'b', 'c']) {
    await c.keep(n, fakeItem(clock, 30, removed, n));
    clock.advance(1);
  }
  await c.evict(0);
  assert.deepEqual(removed, [], '90 bytes fit');
  await c.evict(40); // 40 bytes of pending data: 130 > 100
  assert.deepEqual(removed, ['a']);
  assert.equal(c.bytes, 60);
  c.invalidate('b');
  assert.deepEqual(removed, ['a', 'b']);
});

test('clean cache: at most maxItems copies, the oldest go', async () => {
  const clock = new FakeClock();
  const removed: string[] = [];
  const c = new CleanCache({ clock, maxAgeMs: 3_600_000, maxSize: -1, maxItems: 2 });
  for (const n of ['a', 'b', 'c']) await c.keep(n, fakeItem(clock, 1, removed, n));
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(removed, ['a']);
  assert.equal(c.size, 2);
});

// --- the recovery plan -----------------------------------------------------------------------

const dead: Owner = { pid: 999_999, start: 'gone' };
const alive: Owner = { pid: 1, start: 'running' };
const me: Owner = { pid: 2, start: 'me' };

function journal(id: string, o: Partial<Journal>): string {
  const j: Journal = {
    v: JOURNAL_VERSION,
    id,
    remote: 'r',
    bucket: 'bkt',
    path: `dir/${id}`,
    owner: dead,
    state: 'dirty',
    size: 3,
    mtimeNs: '1',
    base: null,
    present: [[0, 3]],
    server: null,
    updated: new Date(0).toISOString(),
    ...o,
  };
  return JSON.stringify(j);
}

test('recovery plan: pending uploads, clean copies, finished journals, missing data, other mounts, orphans', () => {
  const base = { etag: 'e', size: 3, limit: 3 };
  const entries: CacheDirEntry[] = [
    { name: '1.a.01.json', text: journal('1.a.01', {}), dataExists: true },
    { name: '1.a.02.json', text: journal('1.a.02', { state: 'clean', base }), dataExists: true },
    { name: '1.a.03.json', text: journal('1.a.03', { state: 'clean', base }), dataExists: false },
    { name: '1.a.04.json', text: journal('1.a.04', { state: 'modifying', base }), dataExists: true },
    { name: '1.a.05.json', text: journal('1.a.05', {}), dataExists: false },
    { name: '1.a.06.json', text: journal('1.a.06', { owner: alive }), dataExists: true },
    { name: '1.a.07.json', text: journal('1.a.07', { owner: me }), dataExists: true },
    { name: '1.a.08.json', text: journal('1.a.08', { bucket: 'other' }), dataExists: true },
    { name: '1.a.09.json', text: 'not json' },
    { name: '999999.gone.0a.data' },
    { name: '999999.gone.0b.json.tmp-1f' },
    { name: '1.running.0c.data' },
    // closed without fsync: trusted in the boot that wrote it, not after a restart
    { name: '1.a.10.json', text: journal('1.a.10', { unsynced: 'boot-now' }), dataExists: true },
    { name: '1.a.11.json', text: journal('1.a.11', { unsynced: 'boot-before' }), dataExists: true },
    { name: '1.a.12.json', text: journal('1.a.12', { state: 'clean', base, unsynced: 'boot-before' }), dataExists: true },
  ];
  const plan = planRecovery(entries, {
    bucket: 'bkt',
    boot: 'boot-now',
    keepsClean: true,
    isOurs: (o) => o?.pid === me.pid,
    ownerAlive: (o) => o?.pid === alive.pid || o?.pid === me.pid,
  });
  assert.deepEqual(
    plan.pending.map((j) => j.id),
    ['1.a.01', '1.a.10'],
  );
  assert.deepEqual(
    plan.torn.map((j) => j.id),
    ['1.a.11'],
    'never uploaded: its data may be torn',
  );
  assert.deepEqual(
    plan.clean.map((j) => j.id),
    ['1.a.02'],
  );
  assert.deepEqual(
    plan.missingData.map((j) => j.id),
    ['1.a.05'],
  );
  assert.deepEqual(plan.unreadable, ['1.a.08.json', '1.a.09.json']);
  assert.equal(plan.busy, 1);
  assert.deepEqual(
    plan.remove.sort(),
    ['1.a.03.data', '1.a.03.json', '1.a.04.data', '1.a.04.json', '1.a.12.data', '1.a.12.json', '999999.gone.0a.data', '999999.gone.0b.json.tmp-1f'].sort(),
  );
  const noClean = planRecovery(entries.slice(1, 2), { bucket: 'bkt', boot: 'boot-now', keepsClean: false, isOurs: () => false, ownerAlive: () => false });
  assert.deepEqual(noClean.remove, ['1.a.02.data', '1.a.02.json'], 'a clean copy is dropped when the cache keeps none');
});

test('recovery verdict: already uploaded, changed by someone else (keep both), or go ahead', () => {
  const head = (etag: string, size: number, mtimeNs: bigint | null): ObjectInfo => ({
    path: 'p',
    etag,
    size,
    mtimeNs,
    lastModified: new Date(0),
    metadata: {},
  });
  const item = { size: 5, mtimeNs: 42n };
  assert.equal(verdict({ ...item, server: null }, head('x', 5, 42n)), 'uploaded');
  assert.equal(verdict({ ...item, server: null }, null), 'upload');
  assert.equal(verdict({ ...item, server: null }, head('x', 9, 1n)), 'conflict', 'created here, someone else created it too');
  const was = { etag: 'e1', size: 7, mtimeNs: '7' };
  assert.equal(verdict({ ...item, server: was }, head('e1', 7, 7n)), 'upload');
  assert.equal(verdict({ ...item, server: was }, head('e2', 8, 8n)), 'conflict');
  assert.equal(verdict({ ...item, server: { ...was, etag: '' } }, head('e9', 7, 7n)), 'upload', 'our own copy (new ETag) of the same version');
  assert.equal(verdict({ ...item, server: was }, head('e3', 7, 7n)), 'conflict', 'a known ETag changed: another version, even of the same size and mtime');
  assert.equal(verdict({ ...item, server: 'unknown' }, head('e2', 8, 8n)), 'upload');
  assert.equal(verdict({ ...item, server: was }, null), 'upload');
});

// --- through the Vfs, on the fake clock --------------------------------------------------------

test('write-back on a fake clock: nothing is uploaded before --vfs-write-back after the last close, then exactly once', async () => {
  const clock = new FakeClock();
  const be = new FakeBackend();
  const cacheDir = mkdtempSync(path.join(os.tmpdir(), 'bucketfs-wq-'));
  roots.push(cacheDir);
  const vfs = new Vfs(be, new MountRoot('bucket', ''), defaultVfsOptions({ cacheDir, writeBackMs: 5_000 }), memoryLog(), { remote: 'unit', clock });
  try {
    const fh = await vfs.create('/f.txt');
    await vfs.write(fh, Buffer.from('hello'), 5, 0);
    await vfs.flush(fh);
    await vfs.release(fh);
    // an upload starts synchronously when its timer fires (stats().uploading counts it at once)
    const stats = () => vfs.writes.stats!();
    clock.advance(4_999);
    assert.deepEqual([stats().pending, stats().uploading], [1, 0], 'not before the delay');
    // opened and closed again: the delay starts over from this close
    const again = await vfs.open('/f.txt', 1);
    await vfs.release(again);
    clock.advance(4_999);
    assert.deepEqual([stats().pending, stats().uploading], [1, 0], 'the delay counts from the last close');
    clock.advance(1);
    assert.equal(stats().uploading, 1, 'the upload started when the delay ran out');
    // the upload itself does real file I/O: wait for it to end (bounded)
    const t0 = Date.now();
    while (stats().uploading > 0) {
      assert.ok(Date.now() - t0 < 10_000, 'the upload ends');
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.equal(be.objects.get('f.txt')?.data.toString(), 'hello');
    assert.equal(be.calls.PUT, 1);
  } finally {
    await vfs.close();
  }
});
