// Nothing is lost when the mount process dies: files closed (or fsync'ed) while their upload
// was still pending (--vfs-write-back) are found in the cache at the next mount of the same
// remote and uploaded, with their mtimes; a version changed on the server meanwhile is kept
// and ours is uploaded beside it; uploads that fail at unmount are finished by the next mount.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { run } from '../helpers/run.js';
import { mount, tempDir, useS3Bucket, waitFor, type Mounted, usingMount, MOUNT_TEST } from '../helpers/mount.js';

const BUCKET = 'recovery-bucket';
const MiB = 1024 * 1024;
const bucket = useS3Bucket(BUCKET);
const { getObject, putObject, listKeys: keys } = bucket;

async function storedMtime(key: string): Promise<string | undefined> {
  return (await bucket.headObject(key)).Metadata?.mtime;
}

/** ns since the epoch → rclone's X-Amz-Meta-Mtime string */
function mtimeString(ns: bigint): string {
  const s = ns.toString().padStart(10, '0');
  const frac = s.slice(-9).replace(/0+$/, '');
  return frac ? `${s.slice(0, -9)}.${frac}` : s.slice(0, -9);
}

async function kill9(m: Mounted): Promise<void> {
  m.proc.kill('SIGKILL');
  await m.exited;
}

test('kill -9 while uploads wait for --vfs-write-back: the next mount uploads every closed file, with its bytes and mtime', MOUNT_TEST, async () => {
  const cacheDir = await tempDir('bucketfs-cache-');
  await putObject('rec/existing.bin', randomBytes(3 * MiB));
  const flags = ['--cache-dir', cacheDir, '--vfs-write-back', '60s', '--s3-chunk-size', '5M'];
  const m = await mount(bucket.s3, `moto:${BUCKET}`, { flags });
  const want = new Map<string, Buffer>();
  const mtimes = new Map<string, bigint>();
  bucket.s3.clearRequests();
  await fs.mkdir(path.join(m.mnt, 'rec'), { recursive: true });
  for (let i = 0; i < 12; i++) {
    const data = randomBytes(1 + ((i * 37_171) % 200_000));
    await fs.writeFile(path.join(m.mnt, `rec/small-${i}.bin`), data);
    want.set(`rec/small-${i}.bin`, data);
  }
  // a time set by touch -d, stored with the pending upload
  await fs.writeFile(path.join(m.mnt, 'rec/dated.txt'), 'dated\n');
  assert.equal(
    (await run('touch', ['-d', '2020-02-03 04:05:06.123456789', path.join(m.mnt, 'rec/dated.txt')], { env: { ...process.env, TZ: 'UTC' } })).code,
    0,
  );
  want.set('rec/dated.txt', Buffer.from('dated\n'));
  // a rewrite in the middle of an existing object (a cache file over it)
  const existing = (await getObject('rec/existing.bin'))!;
  const fh = await fs.open(path.join(m.mnt, 'rec/existing.bin'), 'r+');
  await fh.write(Buffer.from('PATCHED'), 0, 7, 2 * MiB);
  await fh.close();
  existing.write('PATCHED', 2 * MiB);
  want.set('rec/existing.bin', existing);
  // the editor's save: write a swap file, fsync, rename it over the file
  const swp = await fs.open(path.join(m.mnt, 'rec/.doc.txt.swp'), 'w');
  await swp.write('saved by the editor\n');
  await swp.sync();
  await swp.close();
  await fs.rename(path.join(m.mnt, 'rec/.doc.txt.swp'), path.join(m.mnt, 'rec/doc.txt'));
  want.set('rec/doc.txt', Buffer.from('saved by the editor\n'));
  for (const k of want.keys()) mtimes.set(k, (await fs.stat(path.join(m.mnt, k), { bigint: true })).mtimeNs);
  assert.equal(mtimes.get('rec/dated.txt'), 1_580_702_706_123_456_789n);
  const uploads = bucket.s3.requests.filter((r) => ['PUT', 'MPc', 'COPY'].includes(r.type) && !r.path.endsWith('/'));
  assert.deepEqual(
    uploads.map((r) => r.path),
    [],
    'nothing uploaded yet: all pending',
  );

  await kill9(m);
  const again = await mount(bucket.s3, `moto:${BUCKET}`, { flags, mnt: m.mnt });
  await usingMount(again, async () => {
    await waitFor(async () => (await keys('rec/')).length >= want.size, 30_000, 'the recovered uploads');
    assert.deepEqual(await keys('rec/'), [...want.keys()].sort(), 'no stray key (no .swp)');
    for (const [k, data] of want) {
      assert.ok((await getObject(k))?.equals(data), `${k}: bytes`);
      assert.equal(await storedMtime(k), mtimeString(mtimes.get(k)!), `${k}: mtime`);
      assert.equal((await fs.stat(path.join(again.mnt, k), { bigint: true })).mtimeNs, mtimes.get(k), `${k}: stat after the remount`);
    }
    assert.match(again.stderr(), /were not uploaded yet: uploading them now/);
    // the cache holds nothing pending any more (clean copies of what was uploaded may stay)
    const pendingJournals = async () => {
      const files = (await run('find', [cacheDir, '-name', '*.json'])).stdout.trim().split('\n').filter(Boolean);
      const states = await Promise.all(files.map(async (f) => (JSON.parse(await fs.readFile(f, 'utf8')) as { state: string }).state));
      return states.filter((st) => st !== 'clean').length;
    };
    await waitFor(async () => (await pendingJournals()) === 0, 10_000, 'no pending journal left');
  });
});

test('a file still open when the mount dies is recovered up to its last fsync, never beyond', MOUNT_TEST, async () => {
  const cacheDir = await tempDir('bucketfs-cache-');
  await putObject('open/existing.txt', '0123456789');
  const flags = ['--cache-dir', cacheDir, '--vfs-write-back', '60s'];
  const m = await mount(bucket.s3, `moto:${BUCKET}`, { flags });
  const py = [
    'import os, sys, time',
    'fd = os.open(os.path.join(sys.argv[1], "new.txt"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC)',
    'os.write(fd, b"A" * 1000)',
    'os.fsync(fd)',
    'os.write(fd, b"B" * 1000)',
    'ex = os.open(os.path.join(sys.argv[1], "existing.txt"), os.O_RDWR)',
    'os.pwrite(ex, b"abc", 3)',
    'os.fsync(ex)',
    'os.pwrite(ex, b"XYZ", 0)',
    'notsynced = os.open(os.path.join(sys.argv[1], "never-synced.txt"), os.O_WRONLY | os.O_CREAT)',
    'os.write(notsynced, b"lost")',
    'print("ready", flush=True)',
    'time.sleep(60)',
  ].join('\n');
  await fs.mkdir(path.join(m.mnt, 'open'), { recursive: true });
  const writer = spawn('python3', ['-c', py, path.join(m.mnt, 'open')], { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    await new Promise<void>((resolve, reject) => {
      writer.stdout.once('data', () => resolve());
      writer.once('exit', (c) => reject(new Error(`writer exited ${c}`)));
    });
    await kill9(m);
  } finally {
    writer.kill('SIGKILL');
  }
  const again = await mount(bucket.s3, `moto:${BUCKET}`, { flags, mnt: m.mnt });
  await usingMount(again, async () => {
    await waitFor(
      async () => (await getObject('open/new.txt')) !== null && (await getObject('open/existing.txt'))?.toString() !== '0123456789',
      20_000,
      'the recovered uploads',
    );
    assert.equal((await getObject('open/new.txt'))?.toString(), 'A'.repeat(1000));
    assert.equal((await getObject('open/existing.txt'))?.toString(), '012abc6789');
  });
  // never fsync'ed, never closed: not an object (a crash may lose what was never made safe); the
  // unmount flushed everything the recovering mount would ever upload
  assert.equal(await getObject('open/never-synced.txt'), null);
});

test('a pending upload whose object changed on the server meanwhile: theirs stays, ours is uploaded as name.conflict-<host>-<time>', MOUNT_TEST, async () => {
  const cacheDir = await tempDir('bucketfs-cache-');
  await putObject('conf/shared.txt', 'original');
  const flags = ['--cache-dir', cacheDir, '--vfs-write-back', '60s'];
  const m = await mount(bucket.s3, `moto:${BUCKET}`, { flags });
  await fs.writeFile(path.join(m.mnt, 'conf/shared.txt'), 'ours, written through the mount');
  await fs.writeFile(path.join(m.mnt, 'conf/created.txt'), 'ours, new');
  await kill9(m);
  await putObject('conf/shared.txt', 'theirs, written by someone else');
  await putObject('conf/created.txt', 'theirs, created by someone else');
  const again = await mount(bucket.s3, `moto:${BUCKET}`, { flags, mnt: m.mnt });
  try {
    await waitFor(async () => (await keys('conf/')).length === 4, 20_000, 'the conflict copies');
    const ks = await keys('conf/');
    assert.equal((await getObject('conf/shared.txt'))?.toString(), 'theirs, written by someone else');
    assert.equal((await getObject('conf/created.txt'))?.toString(), 'theirs, created by someone else');
    const sharedConflict = ks.find((k) => /^conf\/shared\.txt\.conflict-[A-Za-z0-9_-]+-\d{8}-\d{6}$/.test(k));
    const createdConflict = ks.find((k) => /^conf\/created\.txt\.conflict-[A-Za-z0-9_-]+-\d{8}-\d{6}$/.test(k));
    assert.ok(sharedConflict && createdConflict, ks.join(', '));
    assert.equal((await getObject(sharedConflict))?.toString(), 'ours, written through the mount');
    assert.equal((await getObject(createdConflict))?.toString(), 'ours, new');
    assert.match(again.stderr(), /changed on the server since it was written here/);
  } finally {
    await again.unmount();
  }
});

test(
  'recovery has no window between its check and its upload: another client writing in between gets theirs kept, ours as a conflict copy (the upload is conditional)',
  MOUNT_TEST,
  async () => {
    const cacheDir = await tempDir('bucketfs-cache-');
    await putObject('race/file.txt', 'original');
    const flags = ['--cache-dir', cacheDir, '--vfs-write-back', '60s'];
    const m = await mount(bucket.s3, `moto:${BUCKET}`, { flags });
    await fs.writeFile(path.join(m.mnt, 'race/file.txt'), 'ours, pending at the crash');
    await kill9(m);
    // the recovered upload (it carries If-Match) is held back; theirs lands first
    let held = false;
    bucket.s3.faultHook = (r) => {
      if (r.type !== 'PUT' || r.path !== `/${BUCKET}/race/file.txt` || !r.headers['if-match'] || held) return undefined;
      held = true;
      return { delayMs: 1500 };
    };
    const again = await mount(bucket.s3, `moto:${BUCKET}`, { flags, mnt: m.mnt });
    try {
      await waitFor(() => held, 20_000, 'the recovered upload');
      await putObject('race/file.txt', 'theirs, between the check and the upload');
      await waitFor(async () => (await keys('race/')).length === 2, 20_000, 'the conflict copy');
      const ks = await keys('race/');
      assert.equal((await getObject('race/file.txt'))?.toString(), 'theirs, between the check and the upload');
      const conflict = ks.find((k) => k.startsWith('race/file.txt.conflict-'));
      assert.equal((await getObject(conflict!))?.toString(), 'ours, pending at the crash');
      const puts = bucket.s3.requests.filter((r) => r.type === 'PUT' && r.path === `/${BUCKET}/race/file.txt` && r.headers['if-match']);
      assert.ok(
        puts.some((r) => r.status === 412),
        puts.map((r) => r.status).join(' '),
      );
    } finally {
      bucket.s3.faultHook = undefined;
      await again.unmount();
    }
  },
);

test('uploads failing at unmount stay in the cache (non-zero exit, one line) and the next mount finishes them', MOUNT_TEST, async () => {
  const cacheDir = await tempDir('bucketfs-cache-');
  const flags = ['--cache-dir', cacheDir, '--vfs-write-back', '60s'];
  const m = await mount(bucket.s3, `moto:${BUCKET}`, { flags });
  await fs.mkdir(path.join(m.mnt, 'later'));
  await fs.writeFile(path.join(m.mnt, 'later/file.txt'), 'not yet');
  const refuse = (req: { method: string; path: string }) =>
    req.method === 'PUT' && req.path.includes('/later/file.txt') ? { status: 400, code: 'InvalidRequest' } : undefined;
  const r = await bucket.s3.withFault(refuse, () => m.unmount());
  assert.notEqual(r.code, 0);
  assert.match(m.stderr(), /could not be uploaded \(kept under .*uploaded at the next mount\)/);
  assert.equal(await getObject('later/file.txt'), null);
  const again = await mount(bucket.s3, `moto:${BUCKET}`, { flags, mnt: m.mnt });
  await usingMount(again, async () => {
    await waitFor(async () => (await getObject('later/file.txt'))?.toString() === 'not yet', 20_000, 'the upload by the next mount');
  });
});

test(
  'a pending file whose cache file the disk cut short is not uploaded: no zeros nobody wrote reach the bucket, the object keeps its version, one ERROR says where the file is',
  MOUNT_TEST,
  async () => {
    const cacheDir = await tempDir('bucketfs-cache-');
    const flags = ['--cache-dir', cacheDir, '--vfs-write-back', '1h'];
    const before = randomBytes(50_000);
    await putObject('short/kept.bin', before);
    const m = await mount(bucket.s3, `moto:${BUCKET}`, { flags });
    const data = randomBytes(300_000);
    for (const name of ['kept.bin', 'new.bin']) {
      // out of order: a cache file, journaled (fsync) and pending for an hour
      const fh = await fs.open(path.join(m.mnt, 'short', name), name === 'new.bin' ? 'w' : 'r+');
      await fh.write(data, 1000, data.length - 1000, 1000);
      await fh.write(data, 0, 1000, 0);
      await fh.sync();
      await fh.close();
    }
    // an application's own truncate after its fsync, the file still open at the crash: not taken
    // for a data file the disk cut short
    const cut = await fs.open(path.join(m.mnt, 'short/cut.bin'), 'w');
    await cut.write(data, 1000, data.length - 1000, 1000);
    await cut.write(data, 0, 1000, 0);
    await cut.sync();
    await cut.truncate(120_000);
    await kill9(m);
    await cut.close().catch(() => undefined);
    // the disk loses the end of the first two data files
    const dir = path.join(cacheDir, 'vfs');
    const files = (await fs.readdir(dir, { recursive: true })).map(String).filter((f) => f.endsWith('.json'));
    let damaged = 0;
    for (const f of files) {
      const j = JSON.parse(await fs.readFile(path.join(dir, f), 'utf8')) as { path: string };
      if (j.path.endsWith('/cut.bin')) continue;
      await fs.truncate(path.join(dir, f.replace(/\.json$/, '.data')), 100_000);
      damaged++;
    }
    assert.equal(damaged, 2, files.join(' '));

    const again = await mount(bucket.s3, `moto:${BUCKET}`, { flags, mnt: m.mnt });
    await usingMount(again, async () => {
      // the mount serves what the bucket holds
      assert.ok((await fs.readFile(path.join(again.mnt, 'short/kept.bin'))).equals(before));
      await assert.rejects(fs.stat(path.join(again.mnt, 'short/new.bin')), { code: 'ENOENT' });
    });
    assert.ok((await getObject('short/kept.bin'))?.equals(before), 'the object keeps its previous version');
    assert.equal(await getObject('short/new.bin'), null, 'nothing with bytes nobody wrote');
    // as of its last fsync, or as truncated: either is a state the application made; never refused
    const cutStored = await getObject('short/cut.bin');
    assert.ok(
      cutStored?.equals(data) || cutStored?.equals(data.subarray(0, 120_000)),
      `the file truncated after its fsync is recovered: ${cutStored?.length} bytes\n${again.stderr()}`,
    );
    const errors = again
      .stderr()
      .match(/ERROR.*short\/(kept|new)\.bin: pending upload found in the cache, but its data file .* holds 100000 bytes where 300000 were written/g);
    assert.equal(errors?.length, 2, again.stderr());
  },
);
