// The write-back layer through the Vfs over an in-memory backend: write-back timing, local
// renames of pending files, recovery of journals left by a dead mount (with the conflict
// check), unlink during an upload, EFBIG for streams past the part limit.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { Vfs, type VfsExtras } from '../../src/vfs/vfs.js';
import { MountRoot } from '../../src/vfs/paths.js';
import { defaultVfsOptions, type VfsOptions } from '../../src/config/vfs-options.js';
import { VfsError } from '../../src/vfs/errors.js';
import type { ObjectInfo, PutOptions } from '../../src/backend/s3/types.js';
import { FakeBackend, memoryLog } from '../helpers/fake-backend.js';
import { orphanJournals } from '../helpers/vfs-instance.js';

const roots: string[] = [];
after(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

function cacheDir(): string {
  const d = mkdtempSync(path.join(os.tmpdir(), 'bucketfs-wl-'));
  roots.push(d);
  return d;
}

function setup(o: { be?: FakeBackend; cache?: string; opts?: Partial<VfsOptions>; extras?: VfsExtras } = {}) {
  const be = o.be ?? new FakeBackend();
  const log = memoryLog();
  const vfs = new Vfs(be, new MountRoot('bucket', ''), defaultVfsOptions({ cacheDir: o.cache ?? cacheDir(), writeBackMs: 60_000, ...o.opts }), log, {
    remote: 'unit',
    ...o.extras,
  });
  return { be, vfs, log };
}

const code = (c: string) => (e: unknown) => e instanceof VfsError && e.code === c;

async function writeFile(vfs: Vfs, p: string, data: string | Buffer): Promise<void> {
  const fh = await vfs.create(p);
  const b = Buffer.isBuffer(data) ? data : Buffer.from(data);
  await vfs.write(fh, b, b.length, 0);
  await vfs.flush(fh);
  await vfs.release(fh);
}

async function readAll(vfs: Vfs, p: string): Promise<string> {
  const fh = await vfs.open(p, 0);
  const buf = Buffer.alloc(1 << 16);
  const n = await vfs.read(fh, buf, buf.length, 0);
  await vfs.release(fh);
  return buf.subarray(0, n).toString();
}

test('with write-back, close makes the data durable locally and the upload waits; flushAll uploads it', async () => {
  const { be, vfs } = setup();
  await writeFile(vfs, '/a.txt', 'pending');
  assert.equal(be.calls.PUT, undefined, 'no upload at close');
  assert.equal((await vfs.getattr('/a.txt')).size, 7);
  assert.equal(await readAll(vfs, '/a.txt'), 'pending');
  assert.deepEqual(
    (await vfs.readdir('/')).map((e) => e.name),
    ['a.txt'],
  );
  await vfs.flushAll();
  assert.equal(be.objects.get('a.txt')!.data.toString(), 'pending');
  assert.equal(be.calls.PUT, 1);
  await vfs.close();
});

test("a pending file renamed (the editor's save) moves locally: no copy, no delete, one upload at the new name", async () => {
  const { be, vfs } = setup();
  be.putDirect('doc.txt', 'old');
  await vfs.readdir('/');
  await writeFile(vfs, '/.doc.txt.swp', 'new');
  be.resetCounts();
  await vfs.rename('/.doc.txt.swp', '/doc.txt');
  assert.deepEqual(be.calls, {}, 'no request for the rename');
  assert.equal(await readAll(vfs, '/doc.txt'), 'new');
  await assert.rejects(vfs.getattr('/.doc.txt.swp'), code('ENOENT'));
  await vfs.flushAll();
  assert.deepEqual([...be.objects.keys()], ['doc.txt']);
  assert.equal(be.objects.get('doc.txt')!.data.toString(), 'new');
  assert.deepEqual(be.calls, { PUT: 1 });
  await vfs.close();
});

/** the journals under `dir` */
async function journals(dir: string): Promise<Array<{ path: string; present: Array<[number, number]> }>> {
  const out: Array<{ path: string; present: Array<[number, number]> }> = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of await fs.readdir(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.name.endsWith('.json')) out.push(JSON.parse(await fs.readFile(p, 'utf8').catch(() => '{"present":[]}')));
    }
  };
  await walk(dir);
  return out;
}

test('journals of a dead mount are recovered: uploaded with their mtime, or as name.conflict-… when the object changed meanwhile', async () => {
  const cache = cacheDir();
  const be = new FakeBackend();
  be.putDirect('shared.txt', 'original');
  const first = setup({ be, cache });
  await writeFile(first.vfs, '/mine.txt', 'written before the crash');
  await first.vfs.utimens('/mine.txt', 1_600_000_000_123_456_789n);
  const fh = await first.vfs.open('/shared.txt', 2);
  await first.vfs.write(fh, Buffer.from('OURS'), 4, 0);
  await first.vfs.flush(fh);
  await first.vfs.release(fh);
  assert.equal(be.calls.PUT, undefined);
  // after the last close, what the rewrite still needs of the original is fetched in the background:
  // wait until its journal says all 8 bytes are local (a fixed 100 ms was not enough on a loaded
  // machine, and the recovery below then cannot read bytes 4-8 of a base that changed)
  const local = async () => (await journals(cache)).find((j) => j.path === 'shared.txt')?.present.some(([a, b]) => a === 0 && b >= 8) === true;
  for (const t0 = Date.now(); !(await local()) && Date.now() - t0 < 10_000;) await new Promise((r) => setTimeout(r, 10));
  assert.ok(await local(), 'the bytes of the original not written here were fetched');
  // (the lookup's GET of the start of shared.txt brought it all; mine.txt's found nothing)
  assert.deepEqual(
    be.reads.map((r) => r.path),
    ['mine.txt', 'shared.txt'],
  );
  // the process dies: nothing more happens to its state (no close, no flush)
  assert.equal(await orphanJournals(cache), 2);
  be.putDirect('shared.txt', 'theirs, meanwhile');
  const second = setup({ be, cache });
  await second.vfs.recover();
  assert.equal(await readAll(second.vfs, '/mine.txt'), 'written before the crash');
  await second.vfs.flushAll();
  assert.equal(be.objects.get('mine.txt')!.data.toString(), 'written before the crash');
  assert.equal(be.objects.get('mine.txt')!.mtimeNs, 1_600_000_000_123_456_789n);
  assert.equal(be.objects.get('shared.txt')!.data.toString(), 'theirs, meanwhile');
  const conflict = [...be.objects.keys()].find((k) => k.startsWith('shared.txt.conflict-'));
  assert.ok(conflict, [...be.objects.keys()].join(','));
  assert.equal(be.objects.get(conflict)!.data.toString(), 'OURSinal');
  assert.ok(second.log.lines.some((l) => /changed on the server since it was written here/.test(l)));
  await second.vfs.close();
});

/** `p`, or a failure after `ms` (a timer that also keeps the event loop alive: the VFS's own are unref'd) */
async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms)));
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** A backend whose PUTs wait, once started, until the test releases them. */
class GatedPut extends FakeBackend {
  private markStarted!: () => void;
  /** resolves when the first PUT has reached the backend */
  readonly started = new Promise<void>((r) => (this.markStarted = r));
  release!: () => void;
  private readonly gate = new Promise<void>((r) => (this.release = r));
  /** PUTs that have returned */
  done = 0;
  override async put(bucket: string, p: string, body: Buffer | Readable, opts: PutOptions): Promise<ObjectInfo> {
    this.markStarted();
    await this.gate;
    try {
      return await super.put(bucket, p, body, opts);
    } finally {
      this.done++;
    }
  }
}

test('unlink while the upload runs: the object does not stay', async () => {
  const be = new GatedPut();
  const { vfs } = setup({ be, opts: { writeBackMs: 10 } });
  await writeFile(vfs, '/racy.txt', 'uploading');
  await within(be.started, 10_000, 'the upload to start'); // its PUT reached the backend
  // unlink while the PUT is held (unlink may wait for the upload: release the PUT after it began)
  const unlinking = vfs.unlink('/racy.txt');
  await new Promise((r) => setImmediate(r));
  assert.equal(be.done, 0, 'the PUT is still running');
  be.release();
  await within(unlinking, 10_000, 'the unlink');
  await vfs.flushAll();
  assert.equal(be.done, 1, 'the PUT ran to its end');
  assert.ok(!be.objects.has('racy.txt'));
  await vfs.close();
  assert.ok(!be.objects.has('racy.txt'));
});

test('a stream past chunk_size × max_upload_parts is EFBIG, on the write that crosses it and on close; nothing stored', async () => {
  const { be, vfs, log } = setup({ opts: { writeBackMs: 0 }, extras: { upload: { partSize: 64 * 1024, uploadConcurrency: 2, maxUploadParts: 2 } } });
  const fh = await vfs.create('/big');
  const chunk = Buffer.alloc(32 * 1024, 1);
  for (let off = 0; off < 128 * 1024; off += chunk.length) await vfs.write(fh, chunk, chunk.length, off);
  await assert.rejects(vfs.write(fh, chunk, chunk.length, 128 * 1024), code('EFBIG'));
  await assert.rejects(vfs.flush(fh), code('EFBIG'));
  await vfs.release(fh);
  assert.ok(!be.objects.has('big'));
  assert.ok(log.lines.some((l) => /--s3-chunk-size/.test(l)));
  await vfs.close();
});
