// chmod and chown through a real mount: the mode and owners are stored with the object in
// rclone's metadata form (X-Amz-Meta-Mode "100750", Uid, Gid), read back after a remount, read
// from s3fs's form (a decimal mode) and from `rclone copy --metadata`, and cost one server-side
// copy for a stored file, nothing when unchanged, and nothing extra for a file still pending.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { boto3, run } from '../helpers/run.js';
import { mount, mountEnv, sighup, tempDir, useS3Bucket, waitFor, type Mounted, MOUNT_TEST } from '../helpers/mount.js';

const BUCKET = 'posix-attrs';
let m: Mounted;

const bucket = useS3Bucket(BUCKET, {
  async setup(s3) {
    await bucket.putObject('stored/plain.txt', 'a stored file\n');
    await bucket.putObject('stored/same.txt', 'chmod to what it shows\n');
    // as s3fs writes them: the mode in decimal (0100755 = 33261)
    await boto3(
      s3.directEndpoint,
      `s3.put_object(Bucket="${BUCKET}", Key="stored/s3fs.sh", Body=b"#!/bin/sh\\n", Metadata={"mode": "33261", "uid": "1000", "gid": "100"})`,
    );
    m = await mount(s3, `moto:${BUCKET}`, { flags: ['--vfs-write-back', '1s'] });
  },
  async teardown() {
    if (m) await m.unmount().catch(() => undefined);
  },
});

const mnt = (p: string) => path.join(m.mnt, p);
const requestsFor = (key: string) => bucket.s3.requests.filter((r) => r.path === `/${BUCKET}/${key}`);
const modeOf = async (p: string) => {
  const st = await fs.stat(p);
  return { perm: (st.mode & 0o7777).toString(8), uid: st.uid, gid: st.gid };
};

test('chmod and chown of a stored file: one server-side copy, rclone metadata form, kept after a remount; unchanged costs nothing', MOUNT_TEST, async () => {
  assert.deepEqual(await modeOf(mnt('stored/plain.txt')), { perm: '644', uid: process.getuid!(), gid: process.getgid!() }, 'the defaults');
  const mtime = (await fs.stat(mnt('stored/plain.txt'), { bigint: true })).mtimeNs;
  bucket.s3.clearRequests();
  await fs.chmod(mnt('stored/plain.txt'), 0o750);
  await fs.chown(mnt('stored/plain.txt'), 1000, 1001);
  assert.deepEqual(await modeOf(mnt('stored/plain.txt')), { perm: '750', uid: 1000, gid: 1001 });
  assert.equal(requestsFor('stored/plain.txt').filter((r) => r.type === 'COPY').length, 2, 'one copy for each change');
  const head = await bucket.headObject('stored/plain.txt');
  assert.deepEqual({ mode: head.Metadata?.mode, uid: head.Metadata?.uid, gid: head.Metadata?.gid }, { mode: '100750', uid: '1000', gid: '1001' });
  assert.equal((await fs.stat(mnt('stored/plain.txt'), { bigint: true })).mtimeNs, mtime, 'chmod does not move the mtime');
  assert.ok(head.Metadata?.mtime, 'the mtime it showed is stored with the copy');
  assert.equal((await bucket.getObject('stored/plain.txt'))?.toString(), 'a stored file\n');

  // what it already shows: no request at all (cp -p, rsync -a, tar x of default files)
  bucket.s3.clearRequests();
  await fs.chmod(mnt('stored/same.txt'), 0o644);
  await fs.chown(mnt('stored/same.txt'), process.getuid!(), process.getgid!());
  assert.equal(requestsFor('stored/same.txt').filter((r) => r.type === 'COPY' || r.type === 'PUT').length, 0);

  // s3fs's decimal mode
  assert.deepEqual(await modeOf(mnt('stored/s3fs.sh')), { perm: '755', uid: 1000, gid: 100 });

  // a remount shows what is stored
  await m.unmount();
  m = await mount(bucket.s3, `moto:${BUCKET}`, { flags: ['--vfs-write-back', '1s'] });
  assert.deepEqual(await modeOf(mnt('stored/plain.txt')), { perm: '750', uid: 1000, gid: 1001 });
  assert.equal((await fs.stat(mnt('stored/plain.txt'), { bigint: true })).mtimeNs, mtime, 'nor after a remount');
  const ls = await run('ls', ['-ln', mnt('stored')]);
  assert.match(ls.stdout, /^-rwxr-x--- 1 1000 1001 .* plain\.txt$/m);
});

test('chmod +x of a file still pending goes up with its upload: one PUT, no copy; rclone lsjson -M shows the mode', MOUNT_TEST, async () => {
  bucket.s3.clearRequests();
  await fs.mkdir(mnt('new'), { recursive: true });
  await fs.writeFile(mnt('new/run.sh'), '#!/bin/sh\necho hi\n');
  await fs.chmod(mnt('new/run.sh'), 0o755);
  assert.equal((await modeOf(mnt('new/run.sh'))).perm, '755', 'shown before the upload');
  await waitFor(async () => (await bucket.getObject('new/run.sh')) !== null, 10_000, 'the upload');
  // a copy fixing the metadata would follow the upload at once: a file closed later and
  // uploaded through the same delay comes after it
  await fs.writeFile(mnt('new/sentinel.txt'), 'last');
  await waitFor(async () => (await bucket.getObject('new/sentinel.txt')) !== null, 10_000, 'the sentinel upload');
  await waitFor(() => !bucket.s3.requests.some((r) => r.status === 0), 5_000, 'requests in flight to end');
  const reqs = requestsFor('new/run.sh');
  assert.equal(reqs.filter((r) => r.type === 'PUT').length, 1);
  assert.equal(reqs.filter((r) => r.type === 'COPY').length, 0, 'stored with the upload');
  assert.equal((await bucket.headObject('new/run.sh')).Metadata?.mode, '100755');
  const r = await run('rclone', ['lsjson', '-M', `moto:${BUCKET}/new`], { env: mountEnv(bucket.s3) });
  assert.equal(r.code, 0, r.stderr);
  const [entry] = JSON.parse(r.stdout) as Array<{ Name: string; Metadata?: Record<string, string> }>;
  assert.equal(entry?.Metadata?.mode, '100755');
});

test('a file copied in by rclone copy --metadata shows its mode and owner in the mount', MOUNT_TEST, async () => {
  const src = await tempDir();
  await fs.writeFile(path.join(src, 'secret.txt'), 'only for me\n');
  await fs.chmod(path.join(src, 'secret.txt'), 0o600);
  const r = await run('rclone', ['copy', '--metadata', src, `moto:${BUCKET}/from-rclone`], { env: mountEnv(bucket.s3) });
  assert.equal(r.code, 0, r.stderr);
  const st = await modeOf(mnt('from-rclone/secret.txt'));
  assert.equal(st.perm, '600');
  assert.equal(st.uid, process.getuid!());
});

test('kill -9 before the upload of a file whose mode was changed: the next mount uploads it with that mode', MOUNT_TEST, async () => {
  const cacheDir = await tempDir('bucketfs-cache-');
  const flags = ['--cache-dir', cacheDir, '--vfs-write-back', '60s'];
  const first = await mount(bucket.s3, `moto:${BUCKET}`, { flags });
  await fs.mkdir(path.join(first.mnt, 'crash'), { recursive: true });
  await fs.writeFile(path.join(first.mnt, 'crash/tool.sh'), '#!/bin/sh\n');
  await fs.chmod(path.join(first.mnt, 'crash/tool.sh'), 0o700);
  await fs.chown(path.join(first.mnt, 'crash/tool.sh'), 2000, 2001);
  // the chmod/chown after close(2) is journaled at once (no handle is open to flush it)
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(await bucket.getObject('crash/tool.sh'), null, 'still pending');
  first.proc.kill('SIGKILL');
  await first.exited;
  const again = await mount(bucket.s3, `moto:${BUCKET}`, { flags, mnt: first.mnt });
  try {
    await waitFor(async () => (await bucket.getObject('crash/tool.sh')) !== null, 20_000, 'the recovered upload');
    const head = await bucket.headObject('crash/tool.sh');
    assert.deepEqual({ mode: head.Metadata?.mode, uid: head.Metadata?.uid, gid: head.Metadata?.gid }, { mode: '100700', uid: '2000', gid: '2001' });
  } finally {
    await again.unmount();
  }
});

test(
  'open(O_CREAT) with a mode other than the default stores it: a small file with its PUT, a streamed one with its multipart upload; no copy',
  MOUNT_TEST,
  async () => {
    const code = [
      'import os, sys',
      'for name, size in (("small.key", 100), ("big.key", 12 * 1024 * 1024)):',
      '    fd = os.open(os.path.join(sys.argv[1], name), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)',
      '    os.write(fd, b"k" * size)',
      '    os.close(fd)',
    ].join('\n');
    await fs.mkdir(mnt('created'), { recursive: true });
    bucket.s3.clearRequests();
    const r = await run('python3', ['-c', code, mnt('created')]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await modeOf(mnt('created/small.key'))).perm, '600');
    assert.equal((await modeOf(mnt('created/big.key'))).perm, '600');
    await waitFor(
      async () => (await bucket.getObject('created/small.key')) !== null && (await bucket.getObject('created/big.key')) !== null,
      20_000,
      'the uploads',
    );
    await fs.writeFile(mnt('created/sentinel.txt'), 'last');
    await waitFor(async () => (await bucket.getObject('created/sentinel.txt')) !== null, 10_000, 'the sentinel upload');
    await waitFor(() => !bucket.s3.requests.some((q) => q.status === 0), 5_000, 'requests in flight to end');
    for (const k of ['small.key', 'big.key']) assert.equal((await bucket.headObject(`created/${k}`)).Metadata?.mode, '100600', k);
    assert.equal(requestsFor('created/big.key').filter((q) => q.type === 'MPc').length, 1, 'the big one streamed');
    assert.equal(bucket.s3.requests.filter((q) => q.type === 'COPY').length, 0, 'no copy');
    // a default mode stores nothing
    assert.equal((await bucket.headObject('created/sentinel.txt')).Metadata?.mode, undefined);
  },
);

test(
  "a directory's mode, owners and mtime are stored in its marker (rclone's metadata form) and kept after a remount and a rename; one without a marker gets one",
  MOUNT_TEST,
  async () => {
    await fs.mkdir(mnt('dirs/made'), { recursive: true });
    await fs.writeFile(mnt('dirs/made/inner.txt'), 'x');
    await bucket.putObject('dirs/prefix-only/f.txt', 'y');
    await sighup(m);
    const t = new Date('2004-04-04T04:04:04.000Z');
    for (const d of ['dirs/made', 'dirs/prefix-only']) {
      await fs.chmod(mnt(d), 0o750);
      await fs.chown(mnt(d), 1500, 1600);
      await fs.utimes(mnt(d), t, t);
    }
    const marker = await bucket.headObject('dirs/made/');
    assert.deepEqual({ mode: marker.Metadata?.mode, uid: marker.Metadata?.uid, gid: marker.Metadata?.gid }, { mode: '40750', uid: '1500', gid: '1600' });
    assert.equal(marker.Metadata?.mtime, String(t.getTime() / 1000));
    assert.ok(await bucket.headObject('dirs/prefix-only/'), 'a directory that had no marker gets one');
    await fs.rename(mnt('dirs/made'), mnt('dirs/moved'));

    await m.unmount();
    m = await mount(bucket.s3, `moto:${BUCKET}`, { flags: ['--vfs-write-back', '1s'] });
    for (const d of ['dirs/moved', 'dirs/prefix-only']) {
      const st = await fs.stat(mnt(d));
      assert.deepEqual([(st.mode & 0o7777).toString(8), st.uid, st.gid, st.mtime.toISOString()], ['750', 1500, 1600, t.toISOString()], d);
    }
    const ls = await run('ls', ['-ln', mnt('dirs')]);
    assert.match(ls.stdout, /^drwxr-x--- 1 1500 1600 .* moved$/m);
    assert.equal(await fs.readFile(mnt('dirs/moved/inner.txt'), 'utf8'), 'x');
  },
);
