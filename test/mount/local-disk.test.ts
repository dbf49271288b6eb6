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
