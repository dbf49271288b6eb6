// When the cache disk fills up (#15): the application gets ENOSPC, as from a local disk, not EIO.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { mount, tempDir, useS3Bucket, MOUNT_TEST } from '../helpers/mount.js';

const BUCKET = 'local-disk-bucket';
const bucket = useS3Bucket(BUCKET);

test('a full cache disk: fsync and close of a file written there fail with ENOSPC (not EIO), and nothing of it is uploaded', MOUNT_TEST, async (t) => {
  const cache = await tempDir('bucketfs-small-cache-');
  const tmpfs = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', cache]);
  if (tmpfs.status !== 0) return t.skip(`cannot mount a tmpfs here: ${tmpfs.stderr.toString().trim()}`);
  try {
    const m = await mount(bucket.s3, `moto:${BUCKET}`, { flags: ['--cache-dir', cache] });
    try {
      // written other than sequentially: through a cache file, 5 MiB on a 2 MiB disk
      const fh = await fs.open(path.join(m.mnt, 'big.bin'), 'w+');
      const chunk = Buffer.alloc(128 * 1024, 7);
      let failed: NodeJS.ErrnoException | undefined;
      try {
        for (let i = 39; i >= 0; i--) await fh.write(chunk, 0, chunk.length, i * chunk.length);
        await fh.sync();
      } catch (err) {
        failed = err as NodeJS.ErrnoException;
      }
      await fh.close().catch((err: NodeJS.ErrnoException) => (failed ??= err));
      assert.equal(failed?.code, 'ENOSPC', `${failed?.message}\n${m.stderr()}`);
      assert.equal(await bucket.getObject('big.bin'), null, 'nothing of it in the bucket');
    } finally {
      // the file could not be completed: the unmount says so (non-zero), and uploads nothing of it
      const r = await m.unmount();
      assert.notEqual(r.code, 0, m.stderr());
      assert.match(m.stderr(), /big\.bin: .*ENOSPC/);
      assert.equal(await bucket.getObject('big.bin'), null, 'nothing of it in the bucket after the unmount');
    }
  } finally {
    spawnSync('umount', ['-l', cache]);
  }
});
