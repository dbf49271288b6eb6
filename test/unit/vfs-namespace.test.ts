// The VFS over an in-memory backend: what each operation asks of the backend, the merged
// listings, marker directories, POSIX errors of rename/rmdir, and the simple write path.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Vfs } from '../../src/vfs/vfs.js';
import { MountRoot } from '../../src/vfs/paths.js';
import { defaultVfsOptions, type VfsOptions } from '../../src/config/vfs-options.js';
import { VfsError } from '../../src/vfs/errors.js';
import { MAX_TREE_KEYS, SMALL_GET } from '../../src/vfs/namespace.js';
import { FakeBackend, memoryLog } from '../helpers/fake-backend.js';

const cacheRoot = mkdtempSync(path.join(os.tmpdir(), 'bucketfs-unit-'));
after(() => rmSync(cacheRoot, { recursive: true, force: true }));

function setup(overrides: Partial<VfsOptions> = {}, prefix = '') {
  const be = new FakeBackend();
  const log = memoryLog();
  const cacheDir = cacheRoot;
  const vfs = new Vfs(be, new MountRoot('bucket', prefix), defaultVfsOptions({ cacheDir, writeBackMs: 0, ...overrides }), log);
  return { be, vfs, log };
}

const code = (c: string) => (e: unknown) => e instanceof VfsError && e.code === c;

test('readdir merges markers, prefixes and objects once each, and never HEADs', async () => {
  const { be, vfs } = setup();
  be.putDirect('a.txt', 'a');
  be.putDirect('d/x.txt', 'x');
  be.markers.add('d'); // marker and prefix: one directory
  be.markers.add('empty'); // marker only: an empty directory
  be.putDirect('only-prefix/deep/y', 'y');
  const entries = await vfs.readdir('/');
  assert.deepEqual(entries.map((e) => [e.name, e.attr.kind]).sort(), [
    ['a.txt', 'file'],
    ['d', 'dir'],
    ['empty', 'dir'],
    ['only-prefix', 'dir'],
  ]);
  assert.deepEqual(await vfs.readdir('/empty'), []);
  assert.deepEqual(be.calls, { LIST: 2 });
});

test('lookups in a directory not listed probe the one name (a GET of its start and a one-key LIST), never list it; a listed directory answers for free', async () => {
  const { be, vfs } = setup();
  for (let i = 0; i < 10; i++) be.putDirect(`dir/f${i}`, 'x');
  await assert.rejects(vfs.getattr('/dir/missing'), code('ENOENT'));
  // a GET of the key's start (what a HEAD says, and a small file's bytes) + one-key LIST of
  // `key/` (the kernel would have looked up 'dir' first: Vfs is asked directly here)
  assert.deepEqual(be.calls, { GET: 1, LIST: 1 });
  await assert.rejects(vfs.getattr('/dir/also-missing'), code('ENOENT'));
  assert.equal((await vfs.getattr('/dir')).kind, 'dir');
  await assert.rejects(vfs.getattr('/dir/missing'), code('ENOENT'));
  // (the HEAD of dir's marker: its stored times and mode)
  assert.deepEqual(be.calls, { GET: 3, HEAD: 1, LIST: 3 }, 'a known directory and a known absence are not asked again');
  await vfs.readdir('/dir');
  be.resetCounts();
  await assert.rejects(vfs.getattr('/dir/third-missing'), code('ENOENT'));
  assert.deepEqual(be.calls, {}, 'absent from a fresh listing: no request');
});

test('a tree walk (readdirs of two subdirectories, one soon after the other) lists the rest of the tree in one recursive LIST', async () => {
  const { be, vfs } = setup();
  be.latencyMs = 10;
  for (let d = 0; d < 20; d++) for (let f = 0; f < 3; f++) be.putDirect(`tree/d${String(d).padStart(2, '0')}/f${f}`, 'x');
  be.resetCounts();
  // find: depth first, one readdir after the other
  const walk = async (dir: string): Promise<number> => {
    let files = 0;
    for (const e of await vfs.readdir(dir)) files += e.attr.kind === 'dir' ? await walk(`${dir === '/' ? '' : dir}/${e.name}`) : 1;
    return files;
  };
  assert.equal(await walk('/'), 60);
  // the root, tree/, d00 and d01 (the walk shows itself), then one recursive LIST of tree/
  assert.equal(be.calls.LIST, 5);
  // ls of a directory, then of one of its subdirectories: nothing listed ahead
  const one = setup();
  for (let d = 0; d < 5; d++) one.be.putDirect(`top/d${d}/f`, 'x');
  await one.vfs.readdir('/top');
  await one.vfs.readdir('/top/d0');
  for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
  // the probe of top (GET + one-key LIST), the LISTs of top and top/d0: not one more
  assert.deepEqual(one.be.calls, { GET: 1, LIST: 3 });
});

test(`a walk of a tree above MAX_TREE_KEYS: the recursive listing stops at the bound, the directories it did not finish are listed on their own`, async () => {
  const { be, vfs } = setup();
  const dirs = Math.ceil(MAX_TREE_KEYS / 100) + 1;
  const name = (d: number) => `d${String(d).padStart(3, '0')}`;
  for (let d = 0; d < dirs; d++) for (let f = 0; f < 100; f++) be.putDirect(`tree/${name(d)}/f${String(f).padStart(2, '0')}`, 'x');
  be.resetCounts();
  let files = 0;
  await vfs.readdir('/tree');
  for (let d = 0; d < dirs; d++) files += (await vfs.readdir(`/tree/${name(d)}`)).length;
  assert.equal(files, dirs * 100);
  // the probe of tree/ (GET + one-key LIST), its LIST, d000 and d001, one recursive LIST that
  // stops at the last key of the next-to-last directory (not known complete), then that one and
  // the last one on their own
  assert.deepEqual(be.calls, { GET: 1, LIST: 7 });
});

test('small files read one after the other: the next ones are downloaded ahead, several at a time, each once', async () => {
  const { be, vfs } = setup();
  be.latencyMs = 10;
  const names = Array.from({ length: 30 }, (_, i) => `f${String(i).padStart(2, '0')}`);
  for (const n of names) be.putDirect(`small/${n}`, `content of ${n}`);
  for (const n of names.slice(0, 10)) be.putDirect(`small2/${n}`, `content of ${n}`);
  await vfs.readdir('/small');
  await vfs.readdir('/small2');
  be.resetCounts();
  const readAll = async (p: string) => {
    const fh = await vfs.open(p, 0);
    try {
      const buf = Buffer.alloc(100);
      return buf.subarray(0, await vfs.read(fh, buf, 100, 0)).toString();
    } finally {
      await vfs.release(fh);
    }
  };
  const aheadOfOpen: string[] = [];
  for (const n of names) {
    if (be.reads.some((r) => r.path === `small/${n}`)) aheadOfOpen.push(n);
    assert.equal(await readAll(`/small/${n}`), `content of ${n}`);
  }
  const got = be.reads.map((r) => r.path);
  assert.equal(got.length, 30, 'one GET per file');
  assert.equal(new Set(got).size, 30, 'none twice');
  // from the third file on, each one's GET was under way before the program opened it
  assert.deepEqual(aheadOfOpen, names.slice(2));
  // the next folder, right after: from its second file on (its first open starts reading ahead)
  const aheadInNext: string[] = [];
  for (const n of names.slice(0, 10)) {
    if (be.reads.some((r) => r.path === `small2/${n}`)) aheadInNext.push(n);
    assert.equal(await readAll(`/small2/${n}`), `content of ${n}`);
  }
  assert.deepEqual(aheadInNext, names.slice(1, 10));
  assert.equal(be.reads.length, 40, 'one GET per file');
  // one file alone, or files out of name order: nothing read ahead
  const other = setup();
  for (const n of names) other.be.putDirect(`small/${n}`, 'x');
  await other.vfs.readdir('/small');
  other.be.resetCounts();
  for (const n of ['f05', 'f20', 'f03']) {
    const fh = await other.vfs.open(`/small/${n}`, 0);
    await other.vfs.read(fh, Buffer.alloc(10), 10, 0);
    await other.vfs.release(fh);
  }
  for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
  assert.deepEqual(
    other.be.reads.map((r) => r.path),
    ['small/f05', 'small/f20', 'small/f03'],
  );
});

test('opening a known file in a big directory not listed: a GET of its start and a one-key LIST, at once; the GET brought the bytes read', async () => {
  const { be, vfs } = setup();
  be.latencyMs = 20;
  for (let i = 0; i < 3000; i++) be.putDirect(`big/f${String(i).padStart(5, '0')}`, `content ${i}`);
  await vfs.readdir('/');
  be.resetCounts();
  const fh = await vfs.open('/big/f02345', 0);
  const lookupInFlight = be.maxInFlight;
  try {
    const buf = Buffer.alloc(100);
    assert.equal(buf.subarray(0, await vfs.read(fh, buf, 100, 0)).toString(), 'content 2345');
  } finally {
    await vfs.release(fh);
  }
  assert.deepEqual(be.calls, { LIST: 1, GET: 1 });
  // the GET and the LIST went out together: one round trip, not two
  assert.equal(lookupInFlight, 2);
});

test('getattr of a file HEADs once for X-Amz-Meta-Mtime; a stat storm after a readdir prefetches the siblings concurrently', async () => {
  const { be, vfs } = setup({ headConcurrency: 8 });
  be.latencyMs = 5;
  // above SMALL_GET: their getattr is a HEAD, not a GET of the whole file
  const body = 'x'.repeat(SMALL_GET + 1);
  for (let i = 0; i < 40; i++) be.putDirect(`d/f${String(i).padStart(2, '0')}`, body, 1_600_000_000_123_456_789n + BigInt(i));
  await vfs.readdir('/d');
  be.resetCounts();
  const a = await vfs.getattr('/d/f00');
  assert.equal(a.mtimeNs, 1_600_000_000_123_456_789n);
  assert.equal(be.calls.HEAD, 1, 'one stat is not a storm');
  // the second file starts the storm: every sibling's HEAD is started
  await vfs.getattr('/d/f01');
  assert.ok(be.maxConcurrentHeads > 1, 'HEADs run concurrently');
  for (let i = 1; i < 40; i++) await vfs.getattr(`/d/f${String(i).padStart(2, '0')}`);
  assert.equal(be.calls.HEAD, 40);
  assert.ok(be.maxConcurrentHeads > 1 && be.maxConcurrentHeads <= 8, `concurrency ${be.maxConcurrentHeads}`);
  be.resetCounts();
  await vfs.getattr('/d/f10');
  assert.deepEqual(be.calls, {});
});

test('a getattr without a readdir, or a single one after it, HEADs only its own file', async () => {
  const { be, vfs } = setup();
  for (let i = 0; i < 5; i++) be.putDirect(`d/f${i}`, 'x');
  await vfs.getattr('/d/f1');
  await vfs.getattr('/d/f2');
  // probes of d/f1 and d/f2 (a GET of the start + one-key LIST each); a file's probe is its getattr's
  assert.deepEqual(be.calls, { LIST: 2, GET: 2 });
  await vfs.readdir('/d');
  await vfs.getattr('/d/f3');
  await vfs.getattr('/d/f3');
  // + the probe of d (readdir looks it up) and its LIST; then one request for f3 alone, a GET:
  // the listing shows a small file, whose body comes with the metadata a HEAD would give
  assert.deepEqual(be.calls, { LIST: 4, GET: 4 });
});

test('--use-server-modtime and --no-modtime: LastModified from the listing, no HEAD', async () => {
  for (const o of [{ useServerModtime: true }, { noModtime: true }]) {
    const { be, vfs } = setup(o);
    const obj = be.putDirect('f', 'x', 123n);
    await vfs.readdir('/');
    const a = await vfs.getattr('/f');
    assert.equal(a.mtimeNs, BigInt(obj.lastModified.getTime()) * 1_000_000n);
    assert.equal(be.calls.HEAD, undefined);
  }
});

test('modes, owners and statfs come from the options', async () => {
  const { be, vfs } = setup({ uid: 1234, gid: 99, umask: 0o027, filePerms: 0o666, dirPerms: 0o777 });
  be.putDirect('f', 'x');
  be.markers.add('d');
  const f = await vfs.getattr('/f');
  assert.equal(f.mode, 0o100640);
  assert.equal(f.uid, 1234);
  assert.equal((await vfs.getattr('/d')).mode, 0o040750);
  const s = vfs.statfs();
  assert.equal(s.blocks * s.frsize, 2 ** 50);
});

test('mkdir makes a marker and is visible at once; rmdir refuses a non-empty directory and deletes the marker', async () => {
  const { be, vfs } = setup();
  await vfs.readdir('/');
  await vfs.mkdir('/new');
  assert.ok(be.markers.has('new'));
  assert.deepEqual(
    (await vfs.readdir('/')).map((e) => e.name),
    ['new'],
  );
  await assert.rejects(vfs.mkdir('/new'), code('EEXIST'));
  be.resetCounts();
  assert.deepEqual(await vfs.readdir('/new'), [], 'a new directory is known empty without a LIST');
  assert.deepEqual(be.calls, {});
  const fh = await vfs.create('/new/f');
  await vfs.release(fh);
  await assert.rejects(vfs.rmdir('/new'), code('ENOTEMPTY'));
  await vfs.unlink('/new/f');
  await vfs.rmdir('/new');
  assert.ok(!be.markers.has('new'));
  await assert.rejects(vfs.getattr('/new'), code('ENOENT'));
  await assert.rejects(vfs.rmdir('/nothing'), code('ENOENT'));
});

test('rename follows POSIX: file over file, EISDIR, ENOTDIR, ENOTEMPTY, EINVAL into itself', async () => {
  const { be, vfs } = setup();
  be.putDirect('f1', 'one', 5n);
  be.putDirect('f2', 'two');
  be.putDirect('d/x', 'x');
  be.markers.add('e');
  await vfs.rename('/f1', '/f2');
  assert.equal(be.objects.get('f2')!.data.toString(), 'one');
  assert.equal(be.objects.get('f2')!.mtimeNs, 5n, 'the copy keeps the metadata');
  assert.ok(!be.objects.has('f1'));
  await assert.rejects(vfs.rename('/f2', '/d'), code('EISDIR'));
  await assert.rejects(vfs.rename('/d', '/f2'), code('ENOTDIR'));
  await assert.rejects(vfs.rename('/e', '/d'), code('ENOTEMPTY'));
  await assert.rejects(vfs.rename('/d', '/d/sub'), code('EINVAL'));
  await assert.rejects(vfs.rename('/missing', '/x'), code('ENOENT'));
});

test('renaming a directory moves every key, markers included, and its cached listings', async () => {
  const { be, vfs } = setup();
  be.putDirect('src/a', 'a');
  be.putDirect('src/sub/b', 'b');
  be.markers.add('src');
  be.markers.add('src/emptysub');
  await vfs.readdir('/src');
  await vfs.readdir('/src/sub');
  await vfs.rename('/src', '/dst');
  assert.deepEqual([...be.objects.keys()].sort(), ['dst/a', 'dst/sub/b']);
  assert.deepEqual([...be.markers].sort(), ['dst', 'dst/emptysub']);
  be.resetCounts();
  assert.deepEqual(
    (await vfs.readdir('/dst/sub')).map((e) => e.name),
    ['b'],
  );
  assert.deepEqual(be.calls, {}, 'the moved listing is served from the cache');
  await assert.rejects(vfs.getattr('/src'), code('ENOENT'));
});

test('write path: create is visible at once, data uploads on flush, read-your-writes before it', async () => {
  const { be, vfs } = setup();
  await vfs.readdir('/');
  const fh = await vfs.create('/w.txt');
  assert.deepEqual(
    (await vfs.readdir('/')).map((e) => e.name),
    ['w.txt'],
  );
  await vfs.write(fh, Buffer.from('hello '), 6, 0);
  await vfs.write(fh, Buffer.from('world'), 5, 6);
  assert.equal((await vfs.getattr('/w.txt')).size, 11);
  const rd = await vfs.open('/w.txt', 0);
  const buf = Buffer.alloc(32);
  assert.equal(await vfs.read(rd, buf, 32, 0), 11);
  assert.equal(buf.subarray(0, 11).toString(), 'hello world');
  assert.ok(!be.objects.has('w.txt'), 'nothing uploaded before flush');
  await vfs.flush(fh);
  assert.equal(be.objects.get('w.txt')!.data.toString(), 'hello world');
  await vfs.release(fh);
  await vfs.release(rd);
  assert.equal(be.calls.PUT, 1, 'one upload');
});

test('utimens is deferred while data is pending, and a server-side copy otherwise; directories accept it', async () => {
  const { be, vfs } = setup();
  be.markers.add('dir');
  const fh = await vfs.create('/t');
  await vfs.write(fh, Buffer.from('x'), 1, 0);
  await vfs.utimens('/t', 1_609_556_645_678_901_234n);
  await vfs.release(fh);
  assert.equal(be.objects.get('t')!.mtimeNs, 1_609_556_645_678_901_234n);
  assert.equal(be.calls.COPY, undefined);
  await vfs.utimens('/t', 1_000_000_000_000_000_001n);
  assert.equal(be.objects.get('t')!.mtimeNs, 1_000_000_000_000_000_001n);
  assert.equal((await vfs.getattr('/t')).mtimeNs, 1_000_000_000_000_000_001n);
  assert.equal(be.calls.COPY, 1);
  // null (UTIME_OMIT): the mtime stays, nothing is copied
  await vfs.utimens('/t', null);
  assert.equal(be.objects.get('t')!.mtimeNs, 1_000_000_000_000_000_001n);
  assert.equal(be.calls.COPY, 1);
  await vfs.utimens('/dir', 5n);
});

test('unlink of a file being written: nothing is uploaded at release', async () => {
  const { be, vfs } = setup();
  const fh = await vfs.create('/gone');
  await vfs.write(fh, Buffer.from('data'), 4, 0);
  await vfs.unlink('/gone');
  await vfs.release(fh);
  assert.ok(!be.objects.has('gone'));
  await assert.rejects(vfs.getattr('/gone'), code('ENOENT'));
});

test('a read-only mount refuses every change with EROFS', async () => {
  const { be, vfs } = setup({ readOnly: true });
  be.putDirect('f', 'x');
  await assert.rejects(vfs.mkdir('/d'), code('EROFS'));
  await assert.rejects(vfs.create('/n'), code('EROFS'));
  await assert.rejects(vfs.unlink('/f'), code('EROFS'));
  await assert.rejects(vfs.rename('/f', '/g'), code('EROFS'));
  await assert.rejects(vfs.open('/f', 1), code('EROFS'));
  const fh = await vfs.open('/f', 0);
  await vfs.release(fh);
});

test('a mount of a prefix maps paths below it', async () => {
  const { be, vfs } = setup({}, 'some/prefix');
  be.putDirect('some/prefix/in.txt', 'in');
  be.putDirect('some/other.txt', 'out');
  assert.deepEqual(
    (await vfs.readdir('/')).map((e) => e.name),
    ['in.txt'],
  );
  await vfs.mkdir('/sub');
  assert.ok(be.markers.has('some/prefix/sub'));
});

test('names too long for S3 are ENAMETOOLONG before any request', async () => {
  const { be, vfs } = setup();
  await assert.rejects(vfs.mkdir('/' + 'x'.repeat(256)), code('ENAMETOOLONG'));
  await assert.rejects(vfs.create('/' + 'abc/'.repeat(260) + 'f'), code('ENAMETOOLONG'));
  assert.deepEqual(be.calls, {});
});

test('access: ENOENT for missing names, EROFS for W_OK on a read-only mount', async () => {
  const { be, vfs } = setup();
  be.putDirect('f', 'x');
  await vfs.access('/f', 4);
  await assert.rejects(vfs.access('/missing', 0), code('ENOENT'));
  const ro = setup({ readOnly: true });
  ro.be.putDirect('f', 'x');
  await ro.vfs.access('/f', 4);
  await assert.rejects(ro.vfs.access('/f', 2), code('EROFS'));
});

test('two concurrent opens for writing of one new path share one write state', async () => {
  const { be, vfs } = setup();
  be.putDirect('f', 'original');
  const [a, b] = await Promise.all([vfs.open('/f', 2), vfs.open('/f', 2)]);
  await vfs.write(a, Buffer.from('AB'), 2, 0);
  const buf = Buffer.alloc(8);
  assert.equal(await vfs.read(b, buf, 8, 0), 8);
  assert.equal(buf.toString(), 'ABiginal');
  await vfs.release(a);
  await vfs.release(b);
  assert.equal(be.objects.get('f')!.data.toString(), 'ABiginal');
  assert.equal(be.calls.GET, 1, 'the existing content was loaded once');
});
