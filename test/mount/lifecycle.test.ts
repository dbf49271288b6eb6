// The mount's lifecycle: one-line errors at mount time, clean shutdown on SIGTERM (pending
// data uploaded) and on an outside unmount, kill -9 (auto_unmount), stale mounts, --daemon.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { run, bucketfsBin } from '../helpers/run.js';
import { isMounted, mount, mountEnv, mountFails, pidsWith, watcherPids, tempDir, useS3Bucket, waitFor, usingMount, MOUNT_TEST } from '../helpers/mount.js';

const BUCKET = 'lifecycle-bucket';
const bucket = useS3Bucket(BUCKET);

function oneLine(stderr: string): string {
  const lines = stderr.trim().split('\n');
  assert.equal(lines.length, 1, `expected one line on stderr, got: ${stderr}`);
  assert.doesNotMatch(stderr, /\n\s+at /, 'no stack trace');
  return lines[0]!;
}

test('mount-time errors are one clear line and a non-zero exit', MOUNT_TEST, async () => {
  const missing = await mountFails(bucket.s3, `moto:${BUCKET}`, '/nonexistent/bucketfs-mnt');
  assert.notEqual(missing.code, 0);
  assert.match(oneLine(missing.stderr), /mountpoint \/nonexistent\/bucketfs-mnt does not exist/);

  const full = await tempDir();
  await fs.writeFile(path.join(full, 'something'), 'x');
  const nonEmpty = await mountFails(bucket.s3, `moto:${BUCKET}`, full);
  assert.notEqual(nonEmpty.code, 0);
  assert.match(oneLine(nonEmpty.stderr), /is not empty \(use --allow-non-empty/);

  const empty = await tempDir();
  const noBucket = await mountFails(bucket.s3, 'moto:no-such-bucket', empty);
  assert.notEqual(noBucket.code, 0);
  assert.match(oneLine(noBucket.stderr), /bucket "no-such-bucket" does not exist/);
  assert.ok(!isMounted(empty));

  // moto accepts any key; reject what a real S3 rejects for an unknown key id
  const refuseWrongKey = () =>
    /Credential=WRONGKEY\//.test(bucket.s3.hookedRequest().headers.authorization ?? '') ? { status: 403, code: 'InvalidAccessKeyId' } : undefined;
  const bad = await bucket.s3.withFault(refuseWrongKey, () =>
    mountFails(bucket.s3, `moto:${BUCKET}`, empty, [], { RCLONE_CONFIG_MOTO_ACCESS_KEY_ID: 'WRONGKEY' }),
  );
  assert.notEqual(bad.code, 0);
  assert.match(oneLine(bad.stderr), /credentials were refused/);
  assert.doesNotMatch(bad.stderr, /testing-secret-key/);
  assert.ok(!isMounted(empty));
});

test('--read-only: reads work, every change is EROFS', MOUNT_TEST, async () => {
  const seed = await mount(bucket.s3, `moto:${BUCKET}`);
  await fs.mkdir(path.join(seed.mnt, 'ro'));
  await fs.writeFile(path.join(seed.mnt, 'ro/file.txt'), 'read me');
  assert.equal((await seed.unmount()).code, 0);
  const m = await mount(bucket.s3, `moto:${BUCKET}/ro`, { flags: ['--read-only'] });
  await usingMount(m, async () => {
    assert.equal(await fs.readFile(path.join(m.mnt, 'file.txt'), 'utf8'), 'read me');
    await assert.rejects(fs.writeFile(path.join(m.mnt, 'new.txt'), 'x'), { code: 'EROFS' });
    await assert.rejects(fs.mkdir(path.join(m.mnt, 'd')), { code: 'EROFS' });
    await assert.rejects(fs.unlink(path.join(m.mnt, 'file.txt')), { code: 'EROFS' });
    await assert.rejects(fs.rename(path.join(m.mnt, 'file.txt'), path.join(m.mnt, 'moved.txt')), { code: 'EROFS' });
  });
});

test('a --log-file or --cache-dir inside the mountpoint is refused', MOUNT_TEST, async () => {
  const mnt = await tempDir('bucketfs-mnt-');
  const r = await mountFails(bucket.s3, `moto:${BUCKET}`, mnt, ['--log-file', path.join(mnt, 'log.txt')]);
  assert.notEqual(r.code, 0);
  assert.match(oneLine(r.stderr), /--log-file .* is inside the mountpoint/);
});

test('a second mount on the same point fails clearly; the first keeps working', MOUNT_TEST, async () => {
  const m = await mount(bucket.s3, `moto:${BUCKET}`);
  await usingMount(m, async () => {
    const second = await mountFails(bucket.s3, `moto:${BUCKET}`, m.mnt);
    assert.notEqual(second.code, 0);
    assert.match(oneLine(second.stderr), /already a mount point/);
    await fs.writeFile(path.join(m.mnt, 'still.txt'), 'ok');
    assert.equal(await fs.readFile(path.join(m.mnt, 'still.txt'), 'utf8'), 'ok');
  });
});

test('kill -9 of the mount process leaves no dead mount point: fusermount3 unmounts it (auto_unmount)', MOUNT_TEST, async () => {
  const m = await mount(bucket.s3, `moto:${BUCKET}`);
  await fs.writeFile(path.join(m.mnt, 'before-kill.txt'), 'x');
  assert.equal((await watcherPids(m.mnt)).length, 1, 'a fusermount3 watches the mount');
  m.proc.kill('SIGKILL');
  await m.exited;
  await waitFor(() => !isMounted(m.mnt), 10_000, 'the killed mount to be unmounted');
  // a plain ls works: the directory underneath, empty (no ENOTCONN)
  assert.deepEqual(await fs.readdir(m.mnt), []);
  await waitFor(async () => (await watcherPids(m.mnt)).length === 0, 10_000, 'the watcher to exit');
});

test('a stale mount (its process and its watcher killed): mounting again on the same point detects and cleans it', MOUNT_TEST, async () => {
  const m = await mount(bucket.s3, `moto:${BUCKET}`);
  // the watcher first, so that nothing unmounts: what a machine without fusermount3 is left with
  for (const pid of await watcherPids(m.mnt)) process.kill(pid, 'SIGKILL');
  await waitFor(async () => (await watcherPids(m.mnt)).length === 0, 10_000, 'the watcher to die');
  m.proc.kill('SIGKILL');
  await m.exited;
  assert.ok(isMounted(m.mnt), 'the killed mount is still in mountinfo (stale)');
  await assert.rejects(fs.stat(path.join(m.mnt, 'x')), { code: 'ENOTCONN' });
  const again = await mount(bucket.s3, `moto:${BUCKET}`, { mnt: m.mnt });
  await usingMount(again, async () => {
    assert.match(again.stderr(), /stale FUSE mount/);
    await fs.writeFile(path.join(again.mnt, 'after-stale.txt'), 'fine');
    assert.equal(await fs.readFile(path.join(again.mnt, 'after-stale.txt'), 'utf8'), 'fine');
  });
});

test('SIGTERM with a file still open for writing: its data is uploaded, exit 0, unmounted', MOUNT_TEST, async () => {
  const m = await mount(bucket.s3, `moto:${BUCKET}`);
  const file = path.join(m.mnt, 'open-at-exit.txt');
  // a writer that keeps its file open (written, never closed)
  const writer = spawn(
    'python3',
    ['-c', 'import sys, time\nf = open(sys.argv[1], "w")\nf.write("written but not closed\\n")\nf.flush()\nprint("ready", flush=True)\ntime.sleep(60)', file],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  try {
    await new Promise<void>((resolve, reject) => {
      writer.stdout.once('data', () => resolve());
      writer.once('exit', (c) => reject(new Error(`writer exited ${c}`)));
    });
    const r = await m.unmount();
    assert.equal(r.code, 0, m.stderr());
    assert.ok(!isMounted(m.mnt));
  } finally {
    writer.kill('SIGKILL');
  }
  assert.equal((await bucket.getObject('open-at-exit.txt'))?.toString(), 'written but not closed\n');
});

test('an outside fusermount -u ends the mount process cleanly (exit 0)', MOUNT_TEST, async () => {
  const m = await mount(bucket.s3, `moto:${BUCKET}`);
  await fs.writeFile(path.join(m.mnt, 'before-umount.txt'), 'x');
  const u = await run('fusermount3', ['-u', m.mnt]);
  assert.equal(u.code, 0, u.stderr);
  const r = await m.exited;
  assert.equal(r.code, 0, m.stderr());
  assert.match(m.stderr(), /unmounted from outside/);
});

test('--daemon returns once the mount works, and exits non-zero with the reason when it cannot', MOUNT_TEST, async () => {
  const mnt = await tempDir('bucketfs-mnt-');
  const cache = await tempDir('bucketfs-cache-');
  const logFile = path.join(cache, 'daemon.log');
  const r = await run(process.execPath, [bucketfsBin, 'mount', `moto:${BUCKET}`, mnt, '--daemon', '--cache-dir', cache, '--log-file', logFile], {
    env: mountEnv(bucket.s3),
    timeoutMs: 60_000,
  });
  try {
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /mounted moto:lifecycle-bucket on/);
    assert.ok(isMounted(mnt), 'mounted when --daemon returns');
    await fs.writeFile(path.join(mnt, 'via-daemon.txt'), 'daemon');
    assert.equal(await fs.readFile(path.join(mnt, 'via-daemon.txt'), 'utf8'), 'daemon');
    const pids = await pidsWith(mnt);
    assert.equal(pids.length, 1, 'one background mount process');
    assert.equal((await run('fusermount3', ['-u', mnt])).code, 0);
    await waitFor(async () => (await pidsWith(mnt)).length === 0, 20_000, 'the daemon to exit');
  } finally {
    for (const pid of await pidsWith(mnt)) process.kill(pid, 'SIGKILL');
    if (isMounted(mnt)) await run('fusermount3', ['-uz', mnt]);
  }
  const bad = await run(process.execPath, [bucketfsBin, 'mount', 'moto:no-such-bucket', mnt, '--daemon', '--cache-dir', cache], {
    env: mountEnv(bucket.s3),
    timeoutMs: 60_000,
  });
  assert.notEqual(bad.code, 0);
  assert.match(oneLine(bad.stderr), /bucket "no-such-bucket" does not exist/);
  assert.ok(!isMounted(mnt));
});
