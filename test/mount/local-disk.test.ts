// When the cache disk fills up (#15): the application gets ENOSPC, as from a local disk, never
// EIO; a file whose bytes are all in memory goes up from there instead of being lost; a file
// that cannot be completed is never uploaded, and the object keeps its previous version.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { mount, tempDir, useS3Bucket, waitFor, MOUNT_TEST } from '../helpers/mount.js';

const BUCKET = 'local-disk-bucket';
const ORIGINAL = Buffer.alloc(1024 * 1024, 'o');
const bucket = useS3Bucket(BUCKET, {
  async setup() {
    await bucket.putObject('existing.bin', ORIGINAL);
  },
});

test(
  'a full cache disk: a small new file goes up from memory (close succeeds, nothing lost); a rewrite of an existing object that needs the disk gets ENOSPC (not EIO), and the object keeps its previous version',
  MOUNT_TEST,
  async (t) => {
    const cache = await tempDir('bucketfs-small-cache-');
    const tmpfs = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', cache]);
    if (tmpfs.status !== 0) return t.skip(`cannot mount a tmpfs here: ${tmpfs.stderr.toString().trim()}`);
    try {
      // all but a little of the disk taken by something else
      await fs.writeFile(path.join(cache, 'filler'), Buffer.alloc(2 * 1024 * 1024 - 96 * 1024));
      // with write-back, close would journal the file in the cache: no room, so it goes up at close
      const wb = await mount(bucket.s3, `moto:${BUCKET}`, { flags: ['--cache-dir', cache] });
      try {
        // the disk now full to the last block
        await fs.writeFile(path.join(cache, 'filler2'), Buffer.alloc(256 * 1024)).catch(() => undefined);
        await fs.writeFile(path.join(wb.mnt, 'small.txt'), 'ok\n');
        assert.equal((await bucket.getObject('small.txt'))?.toString(), 'ok\n', 'uploaded at close');
        assert.match(wb.stderr(), /small\.txt: the cache disk is full .*uploaded at close, from memory/);
      } finally {
        await wb.unmount();
        await fs.rm(path.join(cache, 'filler2'), { force: true });
      }
      // close waits for the upload: what it says is what happened
      const m = await mount(bucket.s3, `moto:${BUCKET}`, { flags: ['--cache-dir', cache, '--vfs-write-back', '0'] });
      try {
        const fh = await fs.open(path.join(m.mnt, 'existing.bin'), 'r+');
        let failed: NodeJS.ErrnoException | undefined;
        try {
          await fh.write('XXXX', 0);
        } catch (err) {
          failed = err as NodeJS.ErrnoException;
        }
        await fh.close().catch((err: NodeJS.ErrnoException) => (failed ??= err));
        assert.equal(failed?.code, 'ENOSPC', `${failed?.message}\n${m.stderr()}`);
        assert.ok((await bucket.getObject('existing.bin'))?.equals(ORIGINAL), 'the previous version stays');
      } finally {
        await m.unmount();
        assert.ok((await bucket.getObject('existing.bin'))?.equals(ORIGINAL), 'nothing incomplete was uploaded at the unmount either');
        assert.equal((await bucket.getObject('small.txt'))?.toString(), 'ok\n');
        // no half-written journal left behind by the writes that failed
        const left = (await fs.readdir(cache, { recursive: true })).filter((f) => /\.tmp-/.test(String(f)));
        assert.deepEqual(left, []);
      }
    } finally {
      spawnSync('umount', ['-l', cache]);
    }
  },
);

test('uploads of files complete in the cache go on while the cache disk is full: their journals cannot say so, and need not', MOUNT_TEST, async (t) => {
  const cache = await tempDir('bucketfs-small-cache-');
  const tmpfs = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', cache]);
  if (tmpfs.status !== 0) return t.skip(`cannot mount a tmpfs here: ${tmpfs.stderr.toString().trim()}`);
  try {
    const m = await mount(bucket.s3, `moto:${BUCKET}`, { flags: ['--cache-dir', cache, '--vfs-write-back', '1s'] });
    try {
      const bodies = [0, 1, 2].map((i) => Buffer.alloc(100 * 1024, 65 + i));
      for (const [i, b] of bodies.entries()) await fs.writeFile(path.join(m.mnt, `pending${i}.bin`), b);
      // the disk fills up before the write-back delay is over
      await fs.writeFile(path.join(cache, 'filler'), Buffer.alloc(4 * 1024 * 1024)).catch(() => undefined);
      await waitFor(async () => (await Promise.all(bodies.map((_, i) => bucket.getObject(`pending${i}.bin`)))).every((o) => o), 20_000, 'the uploads');
      for (const [i, b] of bodies.entries()) assert.ok((await bucket.getObject(`pending${i}.bin`))?.equals(b));
      assert.doesNotMatch(m.stderr(), /upload failed/, m.stderr());
    } finally {
      await m.unmount();
    }
  } finally {
    spawnSync('umount', ['-l', cache]);
  }
});

/** `fn` with a tmpfs of `size` as the cache directory (skipped where none can be mounted) */
async function withSmallCache(t: { skip(msg: string): void }, size: string, fn: (cache: string) => Promise<void>): Promise<void> {
  const cache = await tempDir('bucketfs-small-cache-');
  const tmpfs = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', cache]);
  if (tmpfs.status !== 0) return t.skip(`cannot mount a tmpfs here: ${tmpfs.stderr.toString().trim()}`);
  try {
    await fn(cache);
  } finally {
    spawnSync('umount', ['-l', cache]);
  }
}

/** bytes of files in `dir` and below */
async function usedBytes(dir: string): Promise<number> {
  let n = 0;
  for (const f of await fs.readdir(dir, { recursive: true })) {
    const st = await fs.stat(path.join(dir, String(f))).catch(() => null);
    if (st?.isFile()) n += st.blocks * 512;
  }
  return n;
}

test(
  'a cache disk full of clean copies (uploaded data kept for reuse): they make room, oldest first, and the write that needed it succeeds',
  MOUNT_TEST,
  async (t) => {
    const MiB = 1024 * 1024;
    await bucket.putObject('clean/a.bin', Buffer.alloc(1536 * 1024, 'a'));
    await bucket.putObject('clean/b.bin', Buffer.alloc(1536 * 1024, 'b'));
    await bucket.putObject('clean/c.bin', Buffer.alloc(2 * 1024 * 1024, 'c'));
    await withSmallCache(t, '4m', async (cache) => {
      // full: reads go through the cache, and what was read stays as a clean copy
      const m = await mount(bucket.s3, `moto:${BUCKET}`, { flags: ['--cache-dir', cache, '--vfs-cache-mode', 'full', '--vfs-write-back', '0'] });
      try {
        assert.equal((await fs.readFile(path.join(m.mnt, 'clean/a.bin'))).length, 1536 * 1024);
        assert.equal((await fs.readFile(path.join(m.mnt, 'clean/b.bin'))).length, 1536 * 1024);
        assert.ok((await usedBytes(cache)) >= 3 * MiB, 'both copies are in the cache');
        // a rewrite in the middle of a 2 MiB object needs a cache file of 2 MiB (the rest of the
        // object is downloaded into it for the upload): the disk has less than that free
        const fh = await fs.open(path.join(m.mnt, 'clean/c.bin'), 'r+');
        try {
          await fh.write(Buffer.alloc(MiB, 'x'), 0, MiB, MiB / 2);
        } finally {
          await fh.close();
        }
        const want = Buffer.alloc(2 * MiB, 'c');
        want.fill('x', MiB / 2, MiB / 2 + MiB);
        assert.ok((await bucket.getObject('clean/c.bin'))?.equals(want), `${m.stderr()}`);
        // the oldest copy went; the objects are untouched
        assert.equal((await bucket.getObject('clean/a.bin'))?.length, 1536 * 1024);
        assert.doesNotMatch(m.stderr(), /ENOSPC|no space/i);
      } finally {
        await m.unmount();
      }
    });
  },
);

test(
  '--vfs-cache-min-free-space: a write that would take the cache disk below it fails at once with ENOSPC and nothing is uploaded; a small new file goes up from memory at close',
  MOUNT_TEST,
  async (t) => {
    const MiB = 1024 * 1024;
    await withSmallCache(t, '4m', async (cache) => {
      const m = await mount(bucket.s3, `moto:${BUCKET}`, { flags: ['--cache-dir', cache, '--vfs-cache-min-free-space', '3M', '--vfs-write-back', '5s'] });
      try {
        // something else takes half a MiB: 3.5 MiB free, above the floor
        await fs.writeFile(path.join(cache, 'filler'), Buffer.alloc(MiB / 2));
        // an existing object rewritten in the middle needs a cache file: 2 MiB would leave < 3 MiB free
        const fh = await fs.open(path.join(m.mnt, 'existing.bin'), 'r+');
        let failed: NodeJS.ErrnoException | undefined;
        try {
          await fh.write(Buffer.alloc(2 * MiB, 'z'), 0, 2 * MiB, 4096);
        } catch (err) {
          failed = err as NodeJS.ErrnoException;
        }
        await fh.close().catch((err: NodeJS.ErrnoException) => (failed ??= err));
        assert.equal(failed?.code, 'ENOSPC', `${failed?.message}\n${m.stderr()}`);
        assert.ok((await bucket.getObject('existing.bin'))?.equals(ORIGINAL), 'the previous version stays');
        assert.ok((await usedBytes(cache)) < MiB, 'the disk was never taken below the floor');
        // now below the floor (something else took more): with write-back, close would keep this
        // file in the cache; it goes up at once instead
        await fs.writeFile(path.join(cache, 'filler2'), Buffer.alloc(MiB));
        // (the mount asks the file system for its free space at most once a second)
        await new Promise((r) => setTimeout(r, 1200));
        await fs.writeFile(path.join(m.mnt, 'floor-small.txt'), 'kept\n');
        assert.equal((await bucket.getObject('floor-small.txt'))?.toString(), 'kept\n', 'uploaded at close');
        assert.match(m.stderr(), /floor-small\.txt: the cache disk is full \(the cache disk is below --vfs-cache-min-free-space/);
      } finally {
        await m.unmount();
      }
      assert.ok((await bucket.getObject('existing.bin'))?.equals(ORIGINAL), 'nothing incomplete was uploaded at the unmount either');
    });
  },
);
