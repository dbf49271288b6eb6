// Pure pieces of the mount: chunk policy, caches, the errno map, FUSE option strings,
// mountinfo parsing, paths (option resolution: config-mount-options.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AccessPattern, aheadLimit, nextGetSize, MIN_STREAM_GET } from '../../src/vfs/read/chunk-policy.js';
import { DirCache } from '../../src/vfs/dir-cache.js';
import { MetaCache } from '../../src/vfs/meta-cache.js';
import { toErrno } from '../../src/fuse/errno.js';
import { fuseOptionList, fsnameOption } from '../../src/fuse/mount-options.js';
import { parseMountInfo, findMount } from '../../src/fuse/mountinfo.js';
import { MountRoot, rebase, isSelfOrBelow } from '../../src/vfs/paths.js';
import { msToNs } from '../../src/vfs/namespace.js';
import { VfsError } from '../../src/vfs/errors.js';
import { BackendError } from '../../src/backend/s3/backend-error.js';

const MiB = 1024 * 1024;

test("stream GET sizes ramp up to the chunk size, then follow rclone's chunk growth", () => {
  const s = { chunkSize: 128 * MiB, chunkSizeLimit: -1, bufferSize: 16 * MiB, readAhead: 0 };
  assert.equal(nextGetSize(s, 0, 8192, 1e12), MIN_STREAM_GET);
  assert.equal(nextGetSize(s, 256 * 1024, 8192, 1e12), 512 * 1024);
  assert.equal(nextGetSize(s, 64 * MiB, 0, 1e12), 128 * MiB);
  // at the chunk size: 'off' keeps doubling, a limit caps it, a limit below the chunk size keeps it fixed
  assert.equal(nextGetSize(s, 128 * MiB, 0, 1e12), 256 * MiB);
  assert.equal(nextGetSize({ ...s, chunkSizeLimit: 200 * MiB }, 128 * MiB, 0, 1e12), 200 * MiB);
  assert.equal(nextGetSize({ ...s, chunkSizeLimit: 100 * MiB }, 128 * MiB, 0, 1e12), 128 * MiB);
  // never past the end of the file
  assert.equal(nextGetSize(s, 0, 0, 1000), 1000);
  // chunk size 0: ramp, then the rest in one GET
  assert.equal(nextGetSize({ ...s, chunkSize: 0 }, 64 * MiB, 0, 5e9), 5e9);
});

test('read-ahead grows with the sequential run, up to --buffer-size + --vfs-read-ahead', () => {
  const s = { chunkSize: 128 * MiB, chunkSizeLimit: -1, bufferSize: 16 * MiB, readAhead: 4 * MiB };
  assert.equal(aheadLimit(s, 0), MIN_STREAM_GET);
  assert.equal(aheadLimit(s, 1 * MiB), 2 * MiB);
  assert.equal(aheadLimit(s, 100 * MiB), 20 * MiB);
});

test('access pattern: continuing reads are sequential, jumps start a new run', () => {
  const p = new AccessPattern();
  assert.equal(p.observe(0, 4096), false, 'the first read is not sequential');
  assert.equal(p.observe(4096, 4096), true);
  assert.equal(p.runBytes, 8192);
  // the kernel's concurrent readahead arrives slightly out of order
  assert.equal(p.observe(16384, 4096), true);
  assert.equal(p.observe(8192, 4096), true);
  assert.equal(p.observe(50 * MiB, 4096), false);
  assert.equal(p.runBytes, 4096);
});

test('dir cache: TTL, local edits, subtree moves, generations', () => {
  let now = 1000;
  const c = new DirCache(2000, 100, () => now);
  c.set('a', new Map([['x', { name: 'x', kind: 'file', size: 1 }]]));
  c.set('a/sub', new Map());
  assert.ok(c.get('a'));
  const g = c.generation('a');
  c.upsert('a', { name: 'y', kind: 'file', size: 2 });
  assert.ok(c.generation('a') > g);
  assert.deepEqual([...c.get('a')!.entries.keys()], ['x', 'y']);
  c.moveSubtree('a', 'b');
  assert.equal(c.get('a'), undefined);
  assert.deepEqual([...c.get('b')!.entries.keys()], ['x', 'y']);
  assert.ok(c.get('b/sub'));
  now += 2001;
  assert.equal(c.get('b'), undefined, 'expired');
  c.set('z', new Map());
  c.clear();
  assert.equal(c.get('z'), undefined);
});

test('dir cache is bounded in number of directories', () => {
  const c = new DirCache(60_000, 3);
  for (const d of ['a', 'b', 'c', 'd']) c.set(d, new Map());
  assert.equal(c.size, 3);
  assert.equal(c.get('a'), undefined);
});

test('meta cache: negative entries are brief and cleared by creates (parents too)', () => {
  let now = 0;
  const m = new MetaCache(10_000, 1000, () => now);
  m.setNegative('a/b/c');
  m.setNegative('a');
  assert.ok(m.isNegative('a/b/c'));
  m.clearNegative('a/b/c/d');
  assert.ok(!m.isNegative('a/b/c'));
  assert.ok(!m.isNegative('a'));
  m.setNegative('x');
  now += 1001;
  assert.ok(!m.isNegative('x'));
});

test('errno map: VfsError codes, backend kinds, anything else EIO', () => {
  assert.equal(toErrno(new VfsError('ENOTEMPTY', 'x')).code, -39);
  const be = (kind: ConstructorParameters<typeof BackendError>[0], detail = 'x') => toErrno(new BackendError(kind, 'OP', 'p', detail));
  assert.equal(be('NotFound').name, 'ENOENT');
  assert.equal(be('AccessDenied').name, 'EACCES');
  assert.equal(be('InvalidCredentials').name, 'EACCES');
  for (const k of ['Network', 'Server', 'Throttled', 'PreconditionFailed', 'Archived', 'Other', 'NoSuchBucket'] as const) assert.equal(be(k).name, 'EIO', k);
  assert.equal(be('TooLarge').name, 'EFBIG');
  assert.equal(be('InvalidName', 'name too long: 2000 bytes').name, 'ENAMETOOLONG');
  assert.equal(be('InvalidName', 'not valid UTF-8').name, 'EINVAL');
  assert.equal(be('Aborted').name, 'EINTR');
  const bug = toErrno(new TypeError('oops'));
  assert.equal(bug.name, 'EIO');
  assert.ok(bug.serious);
});

test('FUSE options go in through fsname: 1 MiB requests, timeouts, auto_unmount, user -o options', () => {
  const base = {
    fsname: 'moto:b,x y',
    readOnly: true,
    allowOther: true,
    allowRoot: false,
    defaultPermissions: false,
    allowNonEmpty: true,
    attrTimeoutMs: 1500,
    maxReadAhead: 131072,
    extra: ['max_readahead=1048576,noatime', 'fsname=custom'],
    autoUnmount: true,
  };
  const list = fuseOptionList(base);
  assert.equal(list[0], 'fsname=custom');
  for (const o of [
    'max_write=1048576',
    'attr_timeout=1.5',
    'entry_timeout=1.5',
    'ro',
    'allow_other',
    'atomic_o_trunc',
    'auto_unmount',
    'noatime',
    'max_readahead=1048576',
  ])
    assert.ok(list.includes(o), o);
  // libfuse 3 knows neither (it would refuse the mount)
  for (const o of ['big_writes', 'nonempty', 'hard_remove']) assert.ok(!list.includes(o), o);
  assert.ok(!fuseOptionList({ ...base, autoUnmount: false }).includes('auto_unmount'));
  assert.ok(!fsnameOption({ ...base, extra: [] }).includes(' '));
  assert.match(fsnameOption({ ...base, extra: [] }), /^moto:b_x_y,subtype=bucketfs,/);
  assert.throws(() => fsnameOption({ ...base, extra: ['x'.repeat(2000)] }), /too long/);
});

test('mountinfo: mount points with escaped spaces', () => {
  const text = '36 35 98:0 /mnt1 /mnt/with\\040space rw,noatime master:1 - fuse.bucketfs moto:b rw\n37 35 98:0 / / rw - ext4 /dev/root rw\n';
  const e = parseMountInfo(text);
  assert.equal(e[0]!.mountPoint, '/mnt/with space');
  assert.equal(e[0]!.fsType, 'fuse.bucketfs');
  assert.ok(findMount('/mnt/with space', e));
  assert.equal(findMount('/mnt', e), undefined);
});

test('paths: mount root prefix, rebase, nanoseconds from milliseconds', () => {
  const r = new MountRoot('b', '/some/prefix/');
  assert.equal(r.toBackend(''), 'some/prefix');
  assert.equal(r.toBackend('a/b'), 'some/prefix/a/b');
  assert.equal(r.fromBackend('some/prefix/a'), 'a');
  assert.equal(r.fromBackend('some/prefixed'), null);
  assert.equal(rebase('a/b/c', 'a/b', 'x'), 'x/c');
  assert.ok(isSelfOrBelow('a/b', 'a') && !isSelfOrBelow('ab', 'a'));
  assert.equal(msToNs(1609556645678), 1609556645678000000n);
  assert.equal(msToNs(1.5), 1500000n);
});
