// The FUSE layer on libfuse 3, through real mounts: the size of the requests that reach the
// mount (counted in libfuse's own debug output), fstat of an open file that was unlinked,
// ENAMETOOLONG, renameat2's RENAME_NOREPLACE, readdirplus, and the errors of a mount that
// libfuse or fusermount3 refuses (the kill -9 case is in lifecycle.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync, chmodSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { run, bucketfsBin } from '../helpers/run.js';
import { isMounted, mount, mountEnv, mountFails, tempDir, useS3Bucket, usingMount, MOUNT_TEST } from '../helpers/mount.js';

const BUCKET = 'fuse-layer-bucket';
const bucket = useS3Bucket(BUCKET);
const MiB = 1024 * 1024;

/** the data requests libfuse printed with -o debug: "write[N] SIZE bytes to OFFSET ..." */
function requestSizes(stderr: string, op: 'read' | 'write'): number[] {
  const re = op === 'write' ? /^write\[\d+\] (\d+) bytes to \d+/gm : /^read\[\d+\] (\d+) bytes from \d+/gm;
  return [...stderr.matchAll(re)].map((m) => Number(m[1]));
}

test('dd bs=1M reaches the mount as 1 MiB requests, written and (with --max-read-ahead 1M) read (libfuse 3: max_pages)', MOUNT_TEST, async () => {
  const m = await mount(bucket.s3, `moto:${BUCKET}`, { flags: ['-o', 'debug'] });
  let writes: number[] = [];
  await usingMount(m, async () => {
    // (never spawnSync while a mount runs with -o debug: its stderr pipe would fill and stall it)
    const dd = await run('dd', ['if=/dev/urandom', `of=${path.join(m.mnt, 'eight.bin')}`, 'bs=1M', 'count=8', 'conv=fsync']);
    assert.equal(dd.code, 0, dd.stderr);
    writes = requestSizes(m.stderr(), 'write');
  });
  assert.deepEqual(writes, Array(8).fill(MiB), `write requests: ${writes.join(', ')}`);

  // a fresh mount: nothing of the file in the kernel's page cache. --max-read-ahead 1M: the
  // kernel's read requests are as large as its read-ahead (rclone's default 128K keeps them at that)
  const r = await mount(bucket.s3, `moto:${BUCKET}`, { flags: ['-o', 'debug', '--max-read-ahead', '1M'] });
  let reads: number[] = [];
  await usingMount(r, async () => {
    const dd = await run('dd', [`if=${path.join(r.mnt, 'eight.bin')}`, 'of=/dev/null', 'bs=1M']);
    assert.equal(dd.code, 0, dd.stderr);
    reads = requestSizes(r.stderr(), 'read');
  });
  // the kernel's read-ahead may ask past the end once: every request is 1 MiB, 8 to 9 of them
  assert.ok(reads.length >= 8 && reads.length <= 9, `read requests: ${reads.join(', ')}`);
  assert.ok(
    reads.every((n) => n === MiB),
    `read requests: ${reads.join(', ')}`,
  );
});

test('fstat of an open file that was unlinked shows its size and mode; the object is gone, the handle still reads', MOUNT_TEST, async () => {
  await bucket.putObject('to-unlink-read.txt', '0123456789abc');
  const m = await mount(bucket.s3, `moto:${BUCKET}`);
  await usingMount(m, async () => {
    // open for writing, written, unlinked: never uploaded
    const w = await fs.open(path.join(m.mnt, 'to-unlink-write.txt'), 'w+');
    await w.write('hello world');
    await fs.unlink(path.join(m.mnt, 'to-unlink-write.txt'));
    const ws = await w.stat();
    assert.equal(ws.size, 11);
    assert.equal(ws.mode & 0o170000, 0o100000, 'a regular file');
    assert.equal(ws.mode & 0o777, 0o644);
    const back = Buffer.alloc(11);
    await w.read(back, 0, 11, 0);
    assert.equal(back.toString(), 'hello world');
    await w.close();

    // open for reading, unlinked: deleted from the bucket
    const r = await fs.open(path.join(m.mnt, 'to-unlink-read.txt'), 'r');
    await fs.unlink(path.join(m.mnt, 'to-unlink-read.txt'));
    const rs = await r.stat();
    assert.equal(rs.size, 13);
    assert.equal(rs.mode & 0o170000, 0o100000);
    const data = Buffer.alloc(13);
    await r.read(data, 0, 13, 0);
    assert.equal(data.toString(), '0123456789abc');
    // the names are gone (the hidden names libfuse gives them never show)
    const names = await fs.readdir(m.mnt);
    assert.ok(!names.some((n) => n.startsWith('to-unlink') || n.startsWith('.fuse_hidden')), names.join(', '));
    await assert.rejects(fs.stat(path.join(m.mnt, 'to-unlink-read.txt')), { code: 'ENOENT' });
    await r.close();
  });
  assert.deepEqual(await bucket.listKeys('to-unlink'), [], 'nothing of either file is left in the bucket');
});

test('a name over 255 bytes: ENAMETOOLONG on stat, unlink, rename, rmdir, truncate, create and mkdir', MOUNT_TEST, async () => {
  const m = await mount(bucket.s3, `moto:${BUCKET}`);
  await usingMount(m, async () => {
    const long = path.join(m.mnt, 'n'.repeat(256));
    const longUtf8 = path.join(m.mnt, 'é'.repeat(128)); // 256 bytes, 128 characters
    await fs.writeFile(path.join(m.mnt, 'short.txt'), 'x');
    for (const p of [long, longUtf8]) {
      await assert.rejects(fs.stat(p), { code: 'ENAMETOOLONG' });
      await assert.rejects(fs.unlink(p), { code: 'ENAMETOOLONG' });
      await assert.rejects(fs.rename(p, path.join(m.mnt, 'other')), { code: 'ENAMETOOLONG' });
      await assert.rejects(fs.rename(path.join(m.mnt, 'short.txt'), p), { code: 'ENAMETOOLONG' });
      await assert.rejects(fs.rmdir(p), { code: 'ENAMETOOLONG' });
      await assert.rejects(fs.truncate(p, 0), { code: 'ENAMETOOLONG' });
      await assert.rejects(fs.writeFile(p, 'x'), { code: 'ENAMETOOLONG' });
      await assert.rejects(fs.mkdir(p), { code: 'ENAMETOOLONG' });
    }
    // 255 bytes is fine
    await fs.writeFile(path.join(m.mnt, 'n'.repeat(255)), 'ok');
    assert.equal(await fs.readFile(path.join(m.mnt, 'n'.repeat(255)), 'utf8'), 'ok');
  });
});

test('renameat2 RENAME_NOREPLACE: EEXIST over an existing name, a rename otherwise; RENAME_EXCHANGE is EINVAL', MOUNT_TEST, async () => {
  const m = await mount(bucket.s3, `moto:${BUCKET}`);
  await usingMount(m, async () => {
    await fs.writeFile(path.join(m.mnt, 'nr-a'), 'a');
    await fs.writeFile(path.join(m.mnt, 'nr-b'), 'b');
    const renameat2 = async (from: string, to: string, flags: number) =>
      (
        await run('python3', [
          '-c',
          [
            'import ctypes, os, sys',
            'libc = ctypes.CDLL(None, use_errno=True)',
            'AT_FDCWD = -100',
            'r = libc.renameat2(AT_FDCWD, sys.argv[1].encode(), AT_FDCWD, sys.argv[2].encode(), int(sys.argv[3]))',
            'print(0 if r == 0 else ctypes.get_errno())',
          ].join('\n'),
          from,
          to,
          String(flags),
        ])
      ).stdout.trim();
    const EEXIST = '17';
    const EINVAL = '22';
    assert.equal(await renameat2(path.join(m.mnt, 'nr-a'), path.join(m.mnt, 'nr-b'), 1), EEXIST);
    assert.equal(await fs.readFile(path.join(m.mnt, 'nr-b'), 'utf8'), 'b', 'the target is untouched');
    assert.equal(await renameat2(path.join(m.mnt, 'nr-a'), path.join(m.mnt, 'nr-c'), 1), '0');
    assert.equal(await fs.readFile(path.join(m.mnt, 'nr-c'), 'utf8'), 'a');
    await assert.rejects(fs.stat(path.join(m.mnt, 'nr-a')), { code: 'ENOENT' });
    assert.equal(await renameat2(path.join(m.mnt, 'nr-b'), path.join(m.mnt, 'nr-c'), 2), EINVAL);
  });
  assert.equal((await bucket.getObject('nr-c'))?.toString(), 'a');
});

/** the per-name calls (lookups, getattrs) of /plus/* in (a part of) a debug log */
function perNameCalls(log: string): string[] {
  return [...log.matchAll(/^(LOOKUP|getattr\[[^\]]*\]) \/plus\/f\d\d\.txt/gm)].map((x) => x[0]);
}

test('ls -l of a folder whose attributes are known: they come with the listing (readdirplus), no call per name', MOUNT_TEST, async () => {
  for (let i = 0; i < 20; i++) await bucket.putObject(`plus/f${String(i).padStart(2, '0')}.txt`, `file ${i}`);
  // --use-server-modtime: the listing's LastModified is the mtime, so the first listing knows all
  const server = await mount(bucket.s3, `moto:${BUCKET}`, { flags: ['-o', 'debug', '--use-server-modtime'] });
  await usingMount(server, async () => {
    const ls = await run('ls', ['-l', path.join(server.mnt, 'plus')]);
    assert.equal(ls.code, 0, ls.stderr);
    assert.equal(ls.stdout.trim().split('\n').length, 21, ls.stdout);
  });
  assert.match(server.stderr(), /opcode: READDIRPLUS/, 'the kernel asked for readdirplus');
  assert.deepEqual(perNameCalls(server.stderr()), [], 'no lookup or getattr per name');

  // rclone's mtimes (X-Amz-Meta-Mtime, known after a HEAD): the first ls -l looks each name up
  // (the listing alone would show LastModified); once their HEADs are known, a listing carries
  // them: after the kernel's attributes expire, the second ls -l is one call
  const m = await mount(bucket.s3, `moto:${BUCKET}`, { flags: ['-o', 'debug', '--attr-timeout', '200ms'] });
  await usingMount(m, async () => {
    assert.equal((await run('ls', ['-l', path.join(m.mnt, 'plus')])).code, 0);
    assert.equal(perNameCalls(m.stderr()).filter((c) => c.startsWith('LOOKUP')).length, 20, 'the first listing: one lookup per name');
    await new Promise((r) => setTimeout(r, 400));
    const before = m.stderr().length;
    const again = await run('ls', ['-l', path.join(m.mnt, 'plus')]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.stdout.trim().split('\n').length, 21, again.stdout);
    assert.match(m.stderr().slice(before), /opcode: READDIRPLUS/);
    assert.deepEqual(perNameCalls(m.stderr().slice(before)), [], 'the second listing: no lookup or getattr per name');
  });
});

test('a mount libfuse refuses exits non-zero with its reason on one line and leaves nothing mounted', MOUNT_TEST, async () => {
  const mnt = await tempDir('bucketfs-mnt-');
  const bad = await mountFails(bucket.s3, `moto:${BUCKET}`, mnt, ['-o', 'no_such_option']);
  assert.notEqual(bad.code, 0);
  const lines = bad.stderr.trim().split('\n');
  assert.equal(lines.length, 1, bad.stderr);
  assert.match(lines[0]!, /^bucketfs: cannot mount on .*: unknown option\(s\): `-o no_such_option'$/);
  assert.ok(!isMounted(mnt));
});

test("allow_other that the system refuses (a user, no user_allow_other): fusermount3's reason, non-zero, nothing mounted", MOUNT_TEST, async () => {
  // A user's mount goes through the setuid fusermount3; libfuse 3 first opens /dev/fuse itself,
  // which this test machine keeps at 0600: opened up for the test, restored after.
  const devMode = statSync('/dev/fuse').mode & 0o777;
  // not under TMPDIR: the test runner's is 0700, which the user could not enter
  const dir = await fs.mkdtemp('/tmp/bucketfs-user-');
  const mnt = path.join(dir, 'mnt');
  const cache = path.join(dir, 'cache');
  await fs.mkdir(mnt);
  await fs.mkdir(cache);
  const nobody = 65534;
  await fs.chown(dir, nobody, nobody);
  await fs.chown(mnt, nobody, nobody);
  await fs.chown(cache, nobody, nobody);
  chmodSync('/dev/fuse', 0o666);
  try {
    const env = { ...mountEnv(bucket.s3), HOME: dir };
    const r = await run(
      'setpriv',
      [
        '--reuid',
        String(nobody),
        '--regid',
        String(nobody),
        '--clear-groups',
        process.execPath,
        bucketfsBin,
        'mount',
        `moto:${BUCKET}`,
        mnt,
        '--cache-dir',
        cache,
        '--allow-other',
      ],
      { env, timeoutMs: 60_000 },
    );
    assert.notEqual(r.code, 0, r.stdout);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, /^bucketfs: cannot mount on .*: option allow_other only allowed if 'user_allow_other' is set in \/etc\/fuse\.conf$/);
    assert.ok(!isMounted(mnt));
  } finally {
    chmodSync('/dev/fuse', devMode);
    if (!isMounted(mnt)) await fs.rm(dir, { recursive: true, force: true });
  }
});

test(
  '--allow-other: the kernel checks the stored modes and owners (default_permissions, on by default with it); --default-permissions=false turns that off',
  MOUNT_TEST,
  async () => {
    // not under TMPDIR (0700): another user must be able to reach the mount point
    const dir = await fs.mkdtemp('/tmp/bucketfs-perm-');
    await fs.chmod(dir, 0o755);
    const mnt = path.join(dir, 'mnt');
    await fs.mkdir(mnt);
    const nobody = 65534;
    const asNobody = (script: string) =>
      run('setpriv', ['--reuid', String(nobody), '--regid', String(nobody), '--clear-groups', 'sh', '-c', script], { timeoutMs: 30_000 });
    try {
      let m = await mount(bucket.s3, `moto:${BUCKET}`, { mnt, flags: ['--allow-other'] });
      await usingMount(m, async () => {
        await fs.mkdir(path.join(mnt, 'perm'), { recursive: true });
        await fs.writeFile(path.join(mnt, 'perm/shared.txt'), 'readable by all\n');
        await fs.writeFile(path.join(mnt, 'perm/secret.txt'), 'root only\n');
        await fs.chmod(path.join(mnt, 'perm/secret.txt'), 0o600);
        await fs.writeFile(path.join(mnt, 'perm/open.txt'), 'anyone may write\n');
        await fs.chmod(path.join(mnt, 'perm/open.txt'), 0o666);
        const read = await asNobody(`cat ${path.join(mnt, 'perm/shared.txt')}`);
        assert.equal(read.code, 0, read.stderr);
        assert.equal(read.stdout, 'readable by all\n');
        const write = await asNobody(`echo x >> ${path.join(mnt, 'perm/shared.txt')}`);
        assert.notEqual(write.code, 0);
        assert.match(write.stderr, /Permission denied/);
        const secret = await asNobody(`cat ${path.join(mnt, 'perm/secret.txt')}`);
        assert.notEqual(secret.code, 0);
        assert.match(secret.stderr, /Permission denied/);
        const create = await asNobody(`touch ${path.join(mnt, 'perm/mine.txt')}`);
        assert.notEqual(create.code, 0, "the directory is 0755 and root's");
        const open = await asNobody(`echo more >> ${path.join(mnt, 'perm/open.txt')}`);
        assert.equal(open.code, 0, open.stderr);
        assert.equal(await fs.readFile(path.join(mnt, 'perm/shared.txt'), 'utf8'), 'readable by all\n', 'unchanged');
      });
      m = await mount(bucket.s3, `moto:${BUCKET}`, { mnt, flags: ['--allow-other', '--default-permissions=false'] });
      await usingMount(m, async () => {
        const write = await asNobody(`echo x >> ${path.join(mnt, 'perm/shared.txt')}`);
        assert.equal(write.code, 0, 'nothing checks permissions then: ' + write.stderr);
      });
    } finally {
      if (!isMounted(mnt)) await fs.rm(dir, { recursive: true, force: true });
    }
  },
);
