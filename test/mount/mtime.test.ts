// Modification times through a real mount, to the nanosecond, both ways: X-Amz-Meta-Mtime
// (rclone's "<sec>.<ns>" with trailing zeros trimmed) shows in stat, and touch -d / -m / -a,
// cp -p, rsync -a and GNU tar x store exactly the time they set. These need the patched
// fuse-native (scripts/build-fuse-native): the npm prebuild passes the atime as the mtime, in
// milliseconds, and libfuse never calls it for a utimensat that omits the atime (tar x, touch -m).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { boto3, run } from '../helpers/run.js';
import { mount, tempDir, useS3Bucket, waitFor, type Mounted, MOUNT_TEST } from '../helpers/mount.js';

const BUCKET = 'mtime-bucket';
let m: Mounted;

/** Dates given to touch -d and tar are UTC */
const UTC_ENV = { ...process.env, TZ: 'UTC' };

async function sh(cmd: string, args: string[], opts: { cwd?: string } = {}): Promise<string> {
  const r = await run(cmd, args, { ...opts, env: UTC_ENV, timeoutMs: 120_000 });
  assert.equal(r.code, 0, `${cmd} ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

/** X-Amz-Meta-Mtime of a key, as stored (undefined when absent) */
async function storedMtime(key: string): Promise<string | undefined> {
  return (await bucket.headObject(key)).Metadata?.mtime;
}

async function mtimeNs(p: string): Promise<bigint> {
  return (await fs.stat(p, { bigint: true })).mtimeNs;
}

/** seconds since the epoch of a UTC date (month 1-12) */
function utcSec(y: number, mo: number, d: number, h: number, mi: number, s: number): number {
  return Date.UTC(y, mo - 1, d, h, mi, s) / 1000;
}

const bucket = useS3Bucket(BUCKET, {
  async setup() {
    // the bucket is checked right after each close: uploads at close, not --vfs-write-back later
    m = await mount(bucket.s3, `moto:${BUCKET}`, { flags: ['--vfs-write-back', '0'] });
  },
  async teardown() {
    if (m) await m.unmount().catch(() => undefined);
  },
});

test('an mtime another client stored (boto3, X-Amz-Meta-Mtime) shows in stat to the nanosecond', MOUNT_TEST, async () => {
  await boto3(
    bucket.s3.directEndpoint,
    [
      `s3.put_object(Bucket="${BUCKET}", Key="ext/ns.txt", Body=b"n", Metadata={"mtime": "1600000000.123456789"})`,
      `s3.put_object(Bucket="${BUCKET}", Key="ext/whole.txt", Body=b"w", Metadata={"mtime": "1500000000"})`,
      `s3.put_object(Bucket="${BUCKET}", Key="ext/old.txt", Body=b"o", Metadata={"mtime": "-1.75"})`,
    ].join('\n'),
  );
  const f = path.join(m.mnt, 'ext/ns.txt');
  assert.match((await sh('stat', ['-c', '%y', f])).trim(), /^2020-09-13 12:26:40\.123456789 \+0000$/);
  assert.equal((await sh('stat', ['-c', '%.9Y', f])).trim(), '1600000000.123456789');
  assert.equal(await mtimeNs(f), 1_600_000_000_123_456_789n);
  assert.equal(await mtimeNs(path.join(m.mnt, 'ext/whole.txt')), 1_500_000_000_000_000_000n);
  // before the epoch: -1.75 s is 1969-12-31 23:59:58.25
  assert.equal((await sh('stat', ['-c', '%y', path.join(m.mnt, 'ext/old.txt')])).trim(), '1969-12-31 23:59:58.250000000 +0000');
});

test("touch -d stores the time to the nanosecond in rclone's format, on existing and new files", MOUNT_TEST, async () => {
  const f = path.join(m.mnt, 'touched.txt');
  await fs.writeFile(f, 'data');
  const sec = utcSec(2020, 1, 2, 3, 4, 5);
  assert.equal(sec, 1577934245);

  await sh('touch', ['-d', '2020-01-02 03:04:05.987654321', f]);
  assert.equal(await storedMtime('touched.txt'), '1577934245.987654321');
  assert.equal(await mtimeNs(f), 1_577_934_245_987_654_321n);
  assert.equal((await sh('stat', ['-c', '%y', f])).trim(), '2020-01-02 03:04:05.987654321 +0000');

  // trailing zeros trimmed; no fraction at all for a whole second
  await sh('touch', ['-d', '2020-01-02 03:04:05.5', f]);
  assert.equal(await storedMtime('touched.txt'), '1577934245.5');
  await sh('touch', ['-d', '2020-01-02 03:04:05', f]);
  assert.equal(await storedMtime('touched.txt'), '1577934245');
  assert.equal(await mtimeNs(f), 1_577_934_245_000_000_000n);
  // before the epoch
  await sh('touch', ['-d', '1969-12-31 23:59:58.25', f]);
  assert.equal(await storedMtime('touched.txt'), '-1.75');
  assert.equal(await mtimeNs(f), -1_750_000_000n);
  assert.equal(await fs.readFile(f, 'utf8'), 'data', 'content unchanged by the time changes');

  // a file touch creates: the time travels with its first upload
  const n = path.join(m.mnt, 'created-by-touch.txt');
  await sh('touch', ['-d', '2020-01-02 03:04:05.000000001', n]);
  assert.equal(await storedMtime('created-by-touch.txt'), '1577934245.000000001');
  assert.equal(await mtimeNs(n), 1_577_934_245_000_000_001n);
});

test('touch -m -d (the atime omitted) sets the mtime; touch -a leaves it; plain touch sets now', MOUNT_TEST, async () => {
  const f = path.join(m.mnt, 'only-m.txt');
  await fs.writeFile(f, 'm');
  await sh('touch', ['-m', '-d', '2021-03-04 05:06:07.123456789', f]);
  const expect = `${utcSec(2021, 3, 4, 5, 6, 7)}.123456789`;
  assert.equal(await storedMtime('only-m.txt'), expect);
  assert.equal((await sh('stat', ['-c', '%.9Y', f])).trim(), expect);

  // the mtime omitted: nothing changes
  await sh('touch', ['-a', '-d', '2022-02-02 02:02:02', f]);
  assert.equal(await storedMtime('only-m.txt'), expect);
  assert.equal((await sh('stat', ['-c', '%.9Y', f])).trim(), expect);

  // UTIME_NOW for both
  const t0 = Date.now();
  await sh('touch', [f]);
  const t1 = Date.now();
  const stored = Number(await storedMtime('only-m.txt')) * 1000;
  assert.ok(stored >= t0 - 1000 && stored <= t1 + 1000, `touch stored ${stored}, expected between ${t0} and ${t1}`);
  const shown = Number((await mtimeNs(f)) / 1_000_000n);
  assert.ok(shown >= t0 - 1000 && shown <= t1 + 1000, `stat shows ${shown}`);

  // the mtime only, as "now" (touch -m without a date)
  await sh('touch', ['-m', '-d', '2021-03-04 05:06:07.123456789', f]);
  const t2 = Date.now();
  await sh('touch', ['-m', f]);
  const nowStored = Number(await storedMtime('only-m.txt')) * 1000;
  assert.ok(nowStored >= t2 - 1000 && nowStored <= Date.now() + 1000, `touch -m stored ${nowStored}`);
});

test('atime: touch -a stores it (rclone form, one copy, the mtime kept), cp -p carries it in with the upload, a read never moves it', MOUNT_TEST, async () => {
  const f = path.join(m.mnt, 'atime.txt');
  await fs.writeFile(f, 'a');
  await sh('touch', ['-m', '-d', '2021-03-04 05:06:07.5', f]);
  await waitFor(async () => (await storedMtime('atime.txt')) === `${utcSec(2021, 3, 4, 5, 6, 7)}.5`, 10_000, 'the upload with the mtime');
  const atimeOf = async (p: string) => (await fs.stat(p, { bigint: true })).atimeNs;
  assert.equal(await atimeOf(f), await mtimeNs(f), 'no atime stored: the mtime');
  bucket.s3.clearRequests();
  await sh('touch', ['-a', '-d', '2022-02-02 02:02:02.25', f]);
  const want = BigInt(utcSec(2022, 2, 2, 2, 2, 2)) * 1_000_000_000n + 250_000_000n;
  assert.equal(await atimeOf(f), want);
  assert.equal(await mtimeNs(f), BigInt(utcSec(2021, 3, 4, 5, 6, 7)) * 1_000_000_000n + 500_000_000n, 'the mtime is kept');
  assert.equal(bucket.s3.requests.filter((r) => r.type === 'COPY').length, 1);
  const head = await bucket.headObject('atime.txt');
  assert.equal(head.Metadata?.atime, '2022-02-02T02:02:02.25Z');
  assert.equal(head.Metadata?.mtime, `${utcSec(2021, 3, 4, 5, 6, 7)}.5`);
  // reads do not move it (no write for a read)
  bucket.s3.clearRequests();
  await fs.readFile(f);
  assert.equal(await atimeOf(f), want);
  assert.equal(bucket.s3.requests.filter((r) => r.type === 'COPY' || r.type === 'PUT').length, 0);

  // cp -p of a local file: mtime and atime go up with the upload, no copy
  const src = await tempDir();
  await fs.writeFile(path.join(src, 'p.txt'), 'p');
  await sh('touch', ['-m', '-d', '2019-05-05 05:05:05', path.join(src, 'p.txt')]);
  await sh('touch', ['-a', '-d', '2020-06-06 06:06:06', path.join(src, 'p.txt')]);
  bucket.s3.clearRequests();
  await sh('cp', ['-p', path.join(src, 'p.txt'), path.join(m.mnt, 'p.txt')]);
  assert.equal(await atimeOf(path.join(m.mnt, 'p.txt')), BigInt(utcSec(2020, 6, 6, 6, 6, 6)) * 1_000_000_000n);
  await waitFor(
    async () => (await bucket.headObject('p.txt').catch(() => null))?.Metadata?.atime === '2020-06-06T06:06:06Z',
    10_000,
    'the upload with the atime',
  );
  assert.equal(bucket.s3.requests.filter((r) => r.type === 'COPY').length, 0);
});

test('cp -p and rsync -a into the mount keep nanosecond mtimes; a second rsync -a transfers nothing', MOUNT_TEST, async () => {
  const src = await tempDir();
  const tree = path.join(src, 'tree');
  await fs.mkdir(path.join(tree, 'sub'), { recursive: true });
  const files = ['a.txt', 'sub/b.bin', 'sub/natural.txt'];
  await fs.writeFile(path.join(tree, 'a.txt'), 'a');
  await fs.writeFile(path.join(tree, 'sub/b.bin'), randomBytes(50_000));
  // an mtime in the past with nanoseconds, and an atime that differs from it
  for (const f of ['a.txt', 'sub/b.bin']) {
    await sh('touch', ['-m', '-d', '2019-05-05 05:05:05.123456789', path.join(tree, f)]);
    await sh('touch', ['-a', '-d', '2022-02-02 02:02:02', path.join(tree, f)]);
  }
  // and the mtime the local filesystem gave a fresh write (nanoseconds on ext4)
  await fs.writeFile(path.join(tree, 'sub/natural.txt'), 'n');
  const want = new Map<string, bigint>();
  for (const f of files) want.set(f, await mtimeNs(path.join(tree, f)));
  assert.equal(want.get('a.txt'), BigInt(utcSec(2019, 5, 5, 5, 5, 5)) * 1_000_000_000n + 123_456_789n);

  await sh('cp', ['-rp', tree, path.join(m.mnt, 'cp-p')]);
  for (const f of files) assert.equal(await mtimeNs(path.join(m.mnt, 'cp-p', f)), want.get(f), `cp -p: ${f}`);
  assert.equal(await storedMtime('cp-p/sub/b.bin'), `${utcSec(2019, 5, 5, 5, 5, 5)}.123456789`);

  await sh('rsync', ['-a', tree + '/', path.join(m.mnt, 'rs')]);
  for (const f of files) assert.equal(await mtimeNs(path.join(m.mnt, 'rs', f)), want.get(f), `rsync -a: ${f}`);
  assert.equal(await storedMtime('rs/a.txt'), `${utcSec(2019, 5, 5, 5, 5, 5)}.123456789`);

  const again = await sh('rsync', ['-a', '--itemize-changes', '--stats', tree + '/', path.join(m.mnt, 'rs')]);
  assert.match(again, /^Number of regular files transferred: 0$/m, `rsync transferred files again:\n${again}`);
  assert.doesNotMatch(again, /^[<>ch.]f/m, `rsync changed files:\n${again}`);
});

test('directory times: touch -d and rsync -a set them, a change of entries moves them to now; a second rsync -a reports no directory', MOUNT_TEST, async () => {
  const d = path.join(m.mnt, 'dtimes');
  await fs.mkdir(d);
  await sh('touch', ['-m', '-d', '2015-06-07 08:09:10.5', d]);
  const set = BigInt(utcSec(2015, 6, 7, 8, 9, 10)) * 1_000_000_000n + 500_000_000n;
  assert.equal(await mtimeNs(d), set, 'touch -d of a directory');
  // a new entry, a rename and a removal each move the directory's mtime to now (POSIX)
  for (const change of [
    () => fs.writeFile(path.join(d, 'new.txt'), 'x'),
    () => fs.rename(path.join(d, 'new.txt'), path.join(d, 'renamed.txt')),
    () => fs.unlink(path.join(d, 'renamed.txt')),
    () => fs.mkdir(path.join(d, 'sub')),
  ]) {
    await sh('touch', ['-m', '-d', '2015-06-07 08:09:10.5', d]);
    const t0 = BigInt(Date.now() - 1000) * 1_000_000n;
    await change();
    assert.ok((await mtimeNs(d)) >= t0, `${change.toString()}: the directory's mtime moves to now`);
  }

  const src = await tempDir();
  const tree = path.join(src, 'dtree');
  await fs.mkdir(path.join(tree, 'x/y'), { recursive: true });
  await fs.writeFile(path.join(tree, 'x/y/f.txt'), 'f');
  await fs.writeFile(path.join(tree, 'x/g.txt'), 'g');
  await sh('touch', ['-m', '-d', '2016-01-02 03:04:05', path.join(tree, 'x/y'), path.join(tree, 'x'), tree]);
  await sh('rsync', ['-a', tree + '/', path.join(m.mnt, 'dtree')]);
  for (const dir of ['x', 'x/y']) assert.equal(await mtimeNs(path.join(m.mnt, 'dtree', dir)), await mtimeNs(path.join(tree, dir)), `rsync -a: ${dir}`);
  const again = await sh('rsync', ['-a', '--itemize-changes', tree + '/', path.join(m.mnt, 'dtree')]);
  assert.equal(again.trim(), '', `the second rsync -a changed something:\n${again}`);
  // stored in the directories' markers: the same after a remount
  await m.unmount();
  m = await mount(bucket.s3, `moto:${BUCKET}`, { flags: ['--vfs-write-back', '0'] });
  assert.equal(await mtimeNs(path.join(m.mnt, 'dtimes')), set, 'touch -d of a directory, after a remount (the last time set on it)');
  const third = await sh('rsync', ['-a', '--itemize-changes', tree + '/', path.join(m.mnt, 'dtree')]);
  assert.equal(third.trim(), '', `rsync -a after a remount changed something:\n${third}`);
});

test("GNU tar x (which sets the mtime with the atime omitted) restores the archive's mtimes", MOUNT_TEST, async () => {
  const src = await tempDir();
  await fs.mkdir(path.join(src, 'arch/dir'), { recursive: true });
  await fs.writeFile(path.join(src, 'arch/x.txt'), 'x');
  await fs.writeFile(path.join(src, 'arch/dir/y.txt'), 'y');
  await sh('touch', ['-m', '-d', '2018-07-08 09:10:11.123456789', path.join(src, 'arch/x.txt')]);
  await sh('touch', ['-m', '-d', '2017-01-01 00:00:00', path.join(src, 'arch/dir/y.txt')]);
  const tarball = path.join(src, 'arch.tar');
  // the pax format keeps nanoseconds (the default gnu format keeps whole seconds)
  await sh('tar', ['--format=posix', '-cf', tarball, '-C', src, 'arch']);
  await sh('tar', ['-xf', tarball, '-C', m.mnt]);

  const x = BigInt(utcSec(2018, 7, 8, 9, 10, 11)) * 1_000_000_000n + 123_456_789n;
  const y = BigInt(utcSec(2017, 1, 1, 0, 0, 0)) * 1_000_000_000n;
  assert.equal(await mtimeNs(path.join(m.mnt, 'arch/x.txt')), x);
  assert.equal(await mtimeNs(path.join(m.mnt, 'arch/dir/y.txt')), y);
  assert.equal(await storedMtime('arch/x.txt'), `${utcSec(2018, 7, 8, 9, 10, 11)}.123456789`);
  assert.equal(await storedMtime('arch/dir/y.txt'), `${utcSec(2017, 1, 1, 0, 0, 0)}`);
  assert.equal(await fs.readFile(path.join(m.mnt, 'arch/x.txt'), 'utf8'), 'x');
  // tar d (compare) agrees: contents and mtimes as in the archive
  await sh('tar', ['-df', tarball, '-C', m.mnt]);
});

test(
  'ctime: its own time, moved by chmod, chown, utimens and rename (never by a read), kept after a remount; a directory the same while mounted',
  MOUNT_TEST,
  async () => {
    const f = path.join(m.mnt, 'ctime.txt');
    await fs.writeFile(f, 'ctime\n');
    await sh('touch', ['-d', '2001-01-01T00:00:00Z', f]);
    await waitFor(async () => (await storedMtime('ctime.txt')) === String(utcSec(2001, 1, 1, 0, 0, 0)), 30_000, 'ctime.txt uploaded with its mtime');
    const before = await fs.stat(f, { bigint: true });
    assert.equal(before.mtimeNs, BigInt(utcSec(2001, 1, 1, 0, 0, 0)) * 1_000_000_000n);
    assert.ok(before.ctimeNs > before.mtimeNs, 'the change time is when it was written, not its mtime');
    // S3 keeps LastModified to the second: wait past it so that a change shows
    await new Promise((r) => setTimeout(r, 1100));
    await fs.readFile(f);
    assert.equal((await fs.stat(f, { bigint: true })).ctimeNs, before.ctimeNs, 'a read changes nothing');
    await fs.chmod(f, 0o640);
    const chmodded = await fs.stat(f, { bigint: true });
    assert.ok(chmodded.ctimeNs > before.ctimeNs, `chmod moves the ctime (${before.ctimeNs} → ${chmodded.ctimeNs})`);
    assert.equal(chmodded.mtimeNs, before.mtimeNs, 'and not the mtime');
    await new Promise((r) => setTimeout(r, 1100));
    await fs.rename(f, path.join(m.mnt, 'ctime-moved.txt'));
    const moved = await fs.stat(path.join(m.mnt, 'ctime-moved.txt'), { bigint: true });
    assert.ok(moved.ctimeNs > chmodded.ctimeNs, 'rename moves the ctime');
    assert.equal(moved.mtimeNs, before.mtimeNs);

    const d = path.join(m.mnt, 'ctime-dir');
    await fs.mkdir(d);
    await sh('touch', ['-d', '2002-02-02T00:00:00Z', d]);
    const dirBefore = await fs.stat(d, { bigint: true });
    assert.ok(dirBefore.ctimeNs > dirBefore.mtimeNs, 'utimens of a directory: ctime now, mtime as set');
    await new Promise((r) => setTimeout(r, 20));
    await fs.chmod(d, 0o700);
    const dirAfter = await fs.stat(d, { bigint: true });
    assert.ok(dirAfter.ctimeNs > dirBefore.ctimeNs && dirAfter.mtimeNs === dirBefore.mtimeNs, 'chmod of a directory moves its ctime only');

    await m.unmount();
    m = await mount(bucket.s3, `moto:${BUCKET}`, { flags: ['--vfs-write-back', '0'] });
    const again = await fs.stat(path.join(m.mnt, 'ctime-moved.txt'), { bigint: true });
    assert.ok(again.ctimeNs >= (moved.ctimeNs / 1_000_000_000n) * 1_000_000_000n, 'the ctime (the object LastModified) survives a remount');
    assert.equal(again.mtimeNs, before.mtimeNs);
  },
);
