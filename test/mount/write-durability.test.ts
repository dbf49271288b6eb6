// close(2) at the speed of a local disk, fsync(2) durable (#9): a close journals the file in the
// cache without fsync (a crash of the mount process loses nothing: the kernel still has the
// bytes), an fsync makes data and journal durable on stable storage; a journal written without
// fsync before the machine restarted is never uploaded (its data may be torn).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { run } from '../helpers/run.js';
import { mount, tempDir, useS3Bucket, waitFor, type Mounted } from '../helpers/mount.js';

const BUCKET = 'durability-bucket';
const bucket = useS3Bucket(BUCKET);

async function kill9(m: Mounted): Promise<void> {
  m.proc.kill('SIGKILL');
  await m.exited;
}

/** the journals of the cache, by the object path they are for */
async function journals(cacheDir: string): Promise<Map<string, { state: string; unsynced?: string; file: string }>> {
  const files = (await run('find', [cacheDir, '-name', '*.json'])).stdout.trim().split('\n').filter(Boolean);
  const out = new Map<string, { state: string; unsynced?: string; file: string }>();
  for (const f of files) {
    const j = JSON.parse(await fs.readFile(f, 'utf8')) as { path: string; state: string; unsynced?: string };
    out.set(j.path, { ...j, file: f });
  }
  return out;
}

test('kill -9 right after close() of 300 small files (no fsync): the next mount uploads every one', { timeout: 300_000 }, async () => {
  const cacheDir = await tempDir('bucketfs-cache-');
  const flags = ['--cache-dir', cacheDir, '--vfs-write-back', '60s'];
  const m = await mount(bucket.s3, `moto:${BUCKET}`, { flags });
  const want = new Map<string, Buffer>();
  await fs.mkdir(path.join(m.mnt, 'many'));
  for (let i = 0; i < 300; i++) {
    const data = randomBytes(1 + ((i * 7919) % 8192));
    await fs.writeFile(path.join(m.mnt, `many/f${i}.bin`), data);
    want.set(`many/f${i}.bin`, data);
  }
  const j = await journals(cacheDir);
  assert.equal(j.size, 300);
  const boot = (await fs.readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim();
  assert.ok(
    [...j.values()].every((x) => x.state === 'dirty' && x.unsynced === boot),
    "closed, journaled, not fsync'd",
  );
  // files still open (never closed, nothing promised): their journals' temporary files, made
  // ahead at create, are left by the kill
  const open = await Promise.all([0, 1, 2].map((i) => fs.open(path.join(m.mnt, `many/open${i}.bin`), 'w')));
  await Promise.all(open.map((fh) => fh.write('x')));
  const temporaries = async () => (await fs.readdir(cacheDir, { recursive: true })).filter((f) => /\.tmp-/.test(String(f)));
  await waitFor(async () => (await temporaries()).length === 3, 10_000, 'the temporary journal files of the open files');
  await kill9(m);
  await Promise.all(open.map((fh) => fh.close().catch(() => undefined)));

  const again = await mount(bucket.s3, `moto:${BUCKET}`, { flags, mnt: m.mnt });
  try {
    await waitFor(async () => (await bucket.listKeys('many/')).length >= want.size, 120_000, 'the recovered uploads');
    for (const [k, data] of want) assert.ok((await bucket.getObject(k))?.equals(data), `${k}: bytes`);
    assert.deepEqual(await temporaries(), [], 'the recovery removed the temporary files of the dead mount');
  } finally {
    await again.unmount();
  }
});

test(
  'fsync(2) makes the pending file durable (its journal has no boot mark); a close-only journal of an earlier boot is not uploaded',
  { timeout: 120_000 },
  async () => {
    const cacheDir = await tempDir('bucketfs-cache-');
    const flags = ['--cache-dir', cacheDir, '--vfs-write-back', '60s'];
    const m = await mount(bucket.s3, `moto:${BUCKET}`, { flags });
    const synced = await fs.open(path.join(m.mnt, 'synced.txt'), 'w');
    await synced.write('fsynced\n');
    await synced.sync();
    await synced.close();
    await fs.writeFile(path.join(m.mnt, 'closed.txt'), 'only closed\n');
    const j = await journals(cacheDir);
    assert.equal(j.get('synced.txt')?.unsynced, undefined, 'fsync: durable');
    assert.ok(j.get('closed.txt')?.unsynced, 'close: marked with the boot it was written in');
    await kill9(m);
    // as if the machine had restarted since: the close-only journal is from another boot
    const closed = j.get('closed.txt')!;
    const record = JSON.parse(await fs.readFile(closed.file, 'utf8')) as Record<string, unknown>;
    await fs.writeFile(closed.file, JSON.stringify({ ...record, unsynced: '00000000-0000-0000-0000-000000000000' }));

    const again = await mount(bucket.s3, `moto:${BUCKET}`, { flags, mnt: m.mnt });
    try {
      await waitFor(async () => (await bucket.getObject('synced.txt')) !== null, 30_000, 'the fsynced file uploaded');
      assert.equal((await bucket.getObject('synced.txt'))?.toString(), 'fsynced\n');
      assert.match(again.stderr(), /closed\.txt: written before the machine restarted and never fsync'd/);
      assert.equal(await bucket.getObject('closed.txt'), null, 'never uploaded');
    } finally {
      await again.unmount();
    }
  },
);
