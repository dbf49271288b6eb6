// When the cache disk fills up (#15): the application gets ENOSPC, as from a local disk, never
// EIO; a file whose bytes are all in memory goes up from there instead of being lost; a file
// that cannot be completed is never uploaded, and the object keeps its previous version.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { mount, tempDir, useS3Bucket, waitFor, writePending, MOUNT_TEST } from '../helpers/mount.js';

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

test(
  'journals damaged while the mount was down (one cut short, one overwritten): one ERROR each, naming it and what to do; nothing is uploaded from them, the objects keep their versions, the mount serves reads',
  MOUNT_TEST,
  async () => {
    const cache = await tempDir('bucketfs-cache-');
    const flags = ['--cache-dir', cache, '--vfs-write-back', '60s'];
    const m = await mount(bucket.s3, `moto:${BUCKET}`, { flags });
    await writePending(path.join(m.mnt, 'new-damaged.bin'), Buffer.alloc(5000, 'n'));
    const fh = await fs.open(path.join(m.mnt, 'existing.bin'), 'r+');
    await fh.write('CHANGED', 100);
    await fh.close();
    m.proc.kill('SIGKILL');
    await m.exited;
    const journals = (await fs.readdir(cache, { recursive: true })).map(String).filter((f) => f.endsWith('.json'));
    assert.equal(journals.length, 2, journals.join(' '));
    const [cut, junk] = journals.map((f) => path.join(cache, f));
    const text = await fs.readFile(cut!, 'utf8');
    await fs.writeFile(cut!, text.slice(0, Math.floor(text.length / 2)));
    await fs.writeFile(junk!, Buffer.alloc(300, 0xff));

    const again = await mount(bucket.s3, `moto:${BUCKET}`, { flags, mnt: m.mnt });
    try {
      await waitFor(() => (again.stderr().match(/damaged, or not a journal/g) ?? []).length >= 2, 20_000, 'the two damaged journals reported');
      for (const j of [cut!, junk!]) {
        const lines = again
          .stderr()
          .split('\n')
          .filter((l) => l.includes(j));
        assert.equal(lines.length, 1, `once: ${j}\n${again.stderr()}`);
        assert.match(lines[0]!, /ERROR.*nothing is uploaded from it.*copy them out if you need them, then remove both files/);
      }
      // reads go on: the previous version of the rewritten object, as the bucket has it
      assert.ok((await fs.readFile(path.join(again.mnt, 'existing.bin'))).equals(ORIGINAL));
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(await bucket.getObject('new-damaged.bin'), null, 'nothing uploaded from a damaged journal');
    } finally {
      await again.unmount();
    }
    assert.ok((await bucket.getObject('existing.bin'))?.equals(ORIGINAL), 'the object keeps its version, also after the unmount');
    assert.equal(await bucket.getObject('new-damaged.bin'), null);
  },
);

test(
  'the cache directory removed while mounted: said once (ERROR, what to do), made again; files written after it reach the bucket intact; one whose only copy of its bytes went with it is not uploaded (no zeros), with an ERROR naming it; reads go on',
  MOUNT_TEST,
  async () => {
    const cache = await tempDir('bucketfs-cache-');
    const m = await mount(bucket.s3, `moto:${BUCKET}`, { flags: ['--cache-dir', cache, '--vfs-write-back', '2s'] });
    try {
      const data = Buffer.alloc(70_000, 'b');
      const small = Buffer.alloc(3000, 'a');
      // closed: its bytes are in its data file only
      await writePending(path.join(m.mnt, 'before-rm.bin'), data);
      await fs.rm(cache, { recursive: true, force: true });
      await fs.writeFile(path.join(m.mnt, 'after-rm.txt'), small);
      await writePending(path.join(m.mnt, 'after-rm.bin'), data);
      await waitFor(async () => (await bucket.getObject('after-rm.bin')) !== null && (await bucket.getObject('after-rm.txt')) !== null, 30_000, 'the uploads');
      assert.ok((await bucket.getObject('after-rm.txt'))?.equals(small));
      assert.ok((await bucket.getObject('after-rm.bin'))?.equals(data));
      await waitFor(
        () =>
          /ERROR.*before-rm\.bin: cannot be uploaded, not tried again: EIO: its data file .* was removed while mounted: the 70000 bytes written here that were only there are lost/.test(
            m.stderr(),
          ),
        30_000,
        'the lost file named',
      );
      assert.equal(await bucket.getObject('before-rm.bin'), null, 'no zeros in its place');
      await new Promise((r) => setTimeout(r, 4500));
      assert.equal((m.stderr().match(/before-rm\.bin: cannot be uploaded/g) ?? []).length, 1, `said once, not tried again\n${m.stderr()}`);
      assert.ok((await fs.readFile(path.join(m.mnt, 'existing.bin'))).equals(ORIGINAL), 'reads go on');
      const said = m.stderr().match(/ERROR.*the cache directory .* was removed while mounted: made again/g) ?? [];
      assert.equal(said.length, 1, m.stderr());
      assert.ok((await fs.stat(cache)).isDirectory());
    } finally {
      await m.unmount();
    }
    assert.equal(await bucket.getObject('before-rm.bin'), null, 'nor at the unmount');
  },
);

for (const used of [true, false]) {
  test(
    `the cache directory made read-only while mounted (${used ? 'in use before' : 'before its first write made its directories'}): a small new file goes up from memory at close (nothing lost), a rewrite that needs the cache gets EROFS and the object keeps its version, reads go on`,
    MOUNT_TEST,
    async (t) => {
      const cache = await tempDir('bucketfs-cache-');
      const m = await mount(bucket.s3, `moto:${BUCKET}`, { flags: ['--cache-dir', cache, '--vfs-write-back', '60s'] });
      let bound = false;
      try {
        // in use before (its directories made), or not
        if (used) await writePending(path.join(m.mnt, 'ro-before.bin'), Buffer.alloc(5000, 'r'));
        // a read-only mount over it, as a remount read-only of its disk would be
        const bind = spawnSync('mount', ['--bind', cache, cache]);
        if (bind.status !== 0) return t.skip(`cannot bind-mount here: ${bind.stderr.toString().trim()}`);
        bound = true;
        const ro = spawnSync('mount', ['-o', 'remount,ro,bind', cache]);
        assert.equal(ro.status, 0, ro.stderr.toString());
        const small = `ro-small-${used}.txt`;
        await fs.writeFile(path.join(m.mnt, small), 'kept\n');
        assert.equal((await bucket.getObject(small))?.toString(), 'kept\n', 'uploaded at close');
        assert.match(m.stderr(), /ro-small-\w+\.txt: the cache cannot be written \(.*EROFS.*\): uploaded at close, from memory/);
        const fh = await fs.open(path.join(m.mnt, 'existing.bin'), 'r+');
        let failed: NodeJS.ErrnoException | undefined;
        try {
          await fh.write('XXXX', 4096);
        } catch (err) {
          failed = err as NodeJS.ErrnoException;
        }
        await fh.close().catch((err: NodeJS.ErrnoException) => (failed ??= err));
        assert.equal(failed?.code, 'EROFS', `${failed?.message}\n${m.stderr()}`);
        assert.ok((await bucket.getObject('existing.bin'))?.equals(ORIGINAL), 'the previous version stays');
        assert.ok((await fs.readFile(path.join(m.mnt, 'existing.bin'))).equals(ORIGINAL), 'reads go on');
      } finally {
        if (bound) spawnSync('umount', [cache]);
        await m.unmount();
      }
      assert.ok((await bucket.getObject('existing.bin'))?.equals(ORIGINAL), 'nothing incomplete uploaded at the unmount');
    },
  );
}
