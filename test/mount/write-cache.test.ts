// The local cache: files written here are read back and reopened from it (no download) while
// the bucket holds that version; --vfs-cache-max-size/--vfs-cache-max-age evict only clean
// copies, never data waiting for its upload; --vfs-cache-mode off/minimal/full; 0700/0600.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { run } from '../helpers/run.js';
import { mount, tempDir, useS3Bucket, usingMount, waitFor, MOUNT_TEST } from '../helpers/mount.js';

const BUCKET = 'cache-write-bucket';
const bucket = useS3Bucket(BUCKET, {
  async setup() {
    await bucket.putObject('remote/existing.bin', randomBytes(300_000));
  },
});
const { getObject } = bucket;

async function cacheFiles(dir: string, ext: string): Promise<string[]> {
  const out = (await run('find', [dir, '-name', `*${ext}`])).stdout.trim();
  return out === '' ? [] : out.split('\n');
}

const gets = (key: string) => bucket.s3.requests.filter((r) => r.type === 'GET' && r.path === `/${BUCKET}/${key}`).length;

test('a file written here is read back and reopened from the cache: no download; the cache is 0700/0600', MOUNT_TEST, async () => {
  const cacheDir = await tempDir('bucketfs-cache-');
  const m = await mount(bucket.s3, `moto:${BUCKET}`, { flags: ['--cache-dir', cacheDir, '--vfs-write-back', '0'] });
  try {
    const data = randomBytes(2_000_000);
    await fs.writeFile(path.join(m.mnt, 'local.bin'), data);
    // a random write makes a cache file of it
    const fh = await fs.open(path.join(m.mnt, 'local.bin'), 'r+');
    await fh.write(Buffer.from('X'), 0, 1, 10);
    await fh.close();
    data.write('X', 10);
    bucket.s3.clearRequests();
    assert.ok((await fs.readFile(path.join(m.mnt, 'local.bin'))).equals(data));
    await fs.appendFile(path.join(m.mnt, 'local.bin'), 'more');
    assert.equal(gets('local.bin'), 0, 'read and appended without a download');
    assert.ok((await getObject('local.bin'))?.equals(Buffer.concat([data, Buffer.from('more')])));
    // what the cache holds on disk is private
    const vfsDir = path.join(cacheDir, 'vfs');
    for (const d of (await run('find', [vfsDir, '-type', 'd'])).stdout.trim().split('\n')) {
      assert.equal((await fs.stat(d)).mode & 0o777, 0o700, d);
    }
    for (const f of (await run('find', [vfsDir, '-type', 'f'])).stdout.trim().split('\n').filter(Boolean)) {
      assert.equal((await fs.stat(f)).mode & 0o777, 0o600, f);
    }
  } finally {
    await m.unmount();
  }
});

test('--vfs-cache-max-size and --vfs-cache-max-age evict clean copies only; a file waiting for its upload is never evicted', MOUNT_TEST, async () => {
  const cacheDir = await tempDir('bucketfs-cache-');
  const m = await mount(bucket.s3, `moto:${BUCKET}`, {
    flags: ['--cache-dir', cacheDir, '--vfs-write-back', '0', '--vfs-cache-max-size', '1M', '--vfs-cache-max-age', '3s', '--vfs-cache-poll-interval', '500ms'],
  });
  try {
    for (let i = 0; i < 4; i++) {
      // random writes: cache files, kept clean after their upload
      const fh = await fs.open(path.join(m.mnt, `evict-${i}.bin`), 'w+');
      await fh.write(randomBytes(400_000), 0, 400_000, 0);
      await fh.write(Buffer.from('x'), 0, 1, 5);
      await fh.close();
    }
    const data = await cacheFiles(cacheDir, '.data');
    assert.ok(data.length <= 2, `at most 1 MiB of clean copies: ${data.length} data files`);
    await waitFor(async () => (await cacheFiles(cacheDir, '.data')).length === 0, 10_000, 'eviction by age');
  } finally {
    await m.unmount();
  }
  // write-back pending data is never evicted, whatever the limits
  const PROBE = 123_457;
  await bucket.putObject('evict-probe.bin', randomBytes(PROBE));
  const m2 = await mount(bucket.s3, `moto:${BUCKET}`, {
    flags: [
      '--cache-dir',
      cacheDir,
      '--vfs-write-back',
      '30s',
      '--vfs-cache-max-size',
      '1k',
      '--vfs-cache-max-age',
      '100ms',
      '--vfs-cache-poll-interval',
      '100ms',
    ],
  });
  const pending = randomBytes(500_000);
  await usingMount(m2, async () => {
    await fs.writeFile(path.join(m2.mnt, 'pending.bin'), pending);
    // eviction has run since (instead of a fixed second): a cache file made after the pending one
    // (an object read through an O_RDWR handle, nothing written) is evicted once closed (clean)
    // (a file evicted between the listing and its stat is simply gone)
    const sizes = async () =>
      (await Promise.all((await cacheFiles(cacheDir, '.data')).map(async (f) => (await fs.stat(f).catch(() => null))?.size))).filter(
        (n): n is number => n !== undefined,
      );
    const fh = await fs.open(path.join(m2.mnt, 'evict-probe.bin'), 'r+');
    try {
      const { bytesRead } = await fh.read(Buffer.alloc(PROBE), 0, PROBE, 0);
      assert.equal(bytesRead, PROBE);
      await waitFor(async () => (await sizes()).includes(PROBE), 10_000, 'the cache file of evict-probe.bin');
    } finally {
      await fh.close();
    }
    await waitFor(async () => !(await sizes()).includes(PROBE), 10_000, 'the eviction of the clean copy');
    assert.deepEqual(await sizes(), [pending.length], 'the pending file is still in the cache');
    assert.equal(await getObject('pending.bin'), null, 'not uploaded yet');
  });
  assert.ok((await getObject('pending.bin'))?.equals(pending));
});

test(
  '--vfs-cache-mode off: streams only (rewrites of bytes not sent yet work, what needs a cache file is EPERM); minimal: O_RDWR files get a cache file',
  MOUNT_TEST,
  async () => {
    const off = await mount(bucket.s3, `moto:${BUCKET}`, { flags: ['--vfs-cache-mode', 'off'] });
    try {
      await fs.writeFile(path.join(off.mnt, 'off.txt'), 'sequential is fine\n');
      assert.equal((await getObject('off.txt'))?.toString(), 'sequential is fine\n');
      const py = [
        'import os, sys',
        'fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)',
        'os.write(fd, b"abcdef")',
        'os.pwrite(fd, b"X", 0)',
        'try:',
        '    os.pwrite(fd, b"far", 200 * 1024 * 1024)',
        '    print("ok")',
        'except OSError as e:',
        '    print("errno", e.errno)',
        'os.close(fd)',
        'try:',
        '    fd = os.open(sys.argv[2], os.O_WRONLY)',
        '    print("opened")',
        'except OSError as e:',
        '    print("errno", e.errno)',
      ].join('\n');
      const r = await run('python3', ['-c', py, path.join(off.mnt, 'seek.txt'), path.join(off.mnt, 'off.txt')]);
      assert.deepEqual(r.stdout.trim().split('\n'), ['errno 1', 'errno 1'], r.stderr);
      assert.equal((await getObject('seek.txt'))?.toString(), 'Xbcdef', 'what was streamed is stored');
      assert.match(off.stderr(), /--vfs-cache-mode writes/);
    } finally {
      await off.unmount();
    }
    const minimal = await mount(bucket.s3, `moto:${BUCKET}`, { flags: ['--vfs-cache-mode', 'minimal', '--vfs-write-back', '0'] });
    try {
      const fh = await fs.open(path.join(minimal.mnt, 'off.txt'), 'r+');
      await fh.write(Buffer.from('S'), 0, 1, 0);
      await fh.close();
      assert.equal((await getObject('off.txt'))?.toString(), 'Sequential is fine\n');
    } finally {
      await minimal.unmount();
    }
  },
);

test('--vfs-cache-mode full: reads go through the cache; a second read, even after a remount, downloads nothing', MOUNT_TEST, async () => {
  const cacheDir = await tempDir('bucketfs-cache-');
  const flags = ['--cache-dir', cacheDir, '--vfs-cache-mode', 'full'];
  const m = await mount(bucket.s3, `moto:${BUCKET}`, { flags });
  const want = (await getObject('remote/existing.bin'))!;
  try {
    assert.ok((await fs.readFile(path.join(m.mnt, 'remote/existing.bin'))).equals(want));
    bucket.s3.clearRequests();
    assert.ok((await fs.readFile(path.join(m.mnt, 'remote/existing.bin'))).equals(want));
    assert.equal(gets('remote/existing.bin'), 0);
  } finally {
    await m.unmount();
  }
  const again = await mount(bucket.s3, `moto:${BUCKET}`, { flags, mnt: m.mnt });
  try {
    bucket.s3.clearRequests();
    assert.ok((await fs.readFile(path.join(again.mnt, 'remote/existing.bin'))).equals(want));
    assert.equal(gets('remote/existing.bin'), 0, 'the cached copy of this version was found again');
  } finally {
    await again.unmount();
  }
});
