// Standard tools on a real FUSE mount over moto: ls, stat, find, cp, cat, dd, diff, tar,
// rsync, mkdir -p, rmdir, rm -r, mv; byte-exact contents; mtimes as rclone stores them;
// directory markers as the console, s3fs and rclone make them; the documented errnos.
// (Setting modification times through the mount, to the nanosecond: mtime.test.ts.)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { PutObjectCommand, GetObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { TestS3 } from '../helpers/s3-server.js';
import { boto3, run } from '../helpers/run.js';
import { cleanupMounts, mount, tempDir, mountEnv, sighup, type Mounted, MOUNT_TEST, MOUNT_HOOK } from '../helpers/mount.js';
import { bucketfs } from '../helpers/run.js';

const BUCKET = 'tools-bucket';
let s3: TestS3;
let m: Mounted;
const small = randomBytes(100_000);
const big = randomBytes(6 * 1024 * 1024 + 123);

async function sh(cmd: string, args: string[], opts: { cwd?: string } = {}): Promise<string> {
  const r = await run(cmd, args, { ...opts, timeoutMs: 120_000 });
  assert.equal(r.code, 0, `${cmd} ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

before(async () => {
  s3 = await TestS3.start();
  await s3.createBucket(BUCKET);
  const c = s3.directClient();
  await Promise.all([
    c.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'docs/small.bin', Body: small, Metadata: { mtime: '1600000000.123456789' } })),
    c.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'docs/big.bin', Body: big })),
    c.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'docs/sub/deep/leaf.txt', Body: 'leaf\n' })),
    c.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'docs/hello.txt', Body: 'hello world\n', Metadata: { mtime: '1500000000.5' } })),
    c.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'console-dir/', Body: '' })),
  ]);
  c.destroy();
  // the bucket is checked right after each close: uploads at close, not --vfs-write-back later
  m = await mount(s3, `moto:${BUCKET}`, { flags: ['--vfs-write-back', '0'] });
}, MOUNT_HOOK);

after(async () => {
  if (m) await m.unmount().catch(() => undefined);
  await cleanupMounts();
  await s3?.stop();
}, MOUNT_HOOK);

test('ls -l and stat show sizes, types and modes', MOUNT_TEST, async () => {
  const out = await sh('ls', ['-l', path.join(m.mnt, 'docs')]);
  assert.match(out, /^-rw-r--r-- 1 \S+ +\S+ +100000 .* small\.bin$/m);
  assert.match(out, new RegExp(`^-rw-r--r-- 1 \\S+ +\\S+ +${big.length} .* big\\.bin$`, 'm'));
  assert.match(out, /^drwxr-xr-x 1 \S+ +\S+ +0 .* sub$/m);
  const st = await fs.stat(path.join(m.mnt, 'docs/small.bin'));
  assert.equal(st.size, 100000);
  assert.ok(st.isFile());
  assert.ok((await fs.stat(path.join(m.mnt, 'docs/sub/deep'))).isDirectory());
});

test('X-Amz-Meta-Mtime (rclone format) is the mtime; without it LastModified', MOUNT_TEST, async () => {
  const y = (await sh('stat', ['-c', '%y', path.join(m.mnt, 'docs/small.bin')])).trim();
  assert.match(y, /^2020-09-13 12:26:40\.123456789/);
  const st = await fs.stat(path.join(m.mnt, 'docs/hello.txt'));
  assert.equal(st.mtimeMs, 1500000000500);
  const c = s3.directClient();
  const head = await c.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'docs/big.bin' }));
  c.destroy();
  const bigSt = await fs.stat(path.join(m.mnt, 'docs/big.bin'));
  assert.equal(Math.floor(bigSt.mtimeMs / 1000), Math.floor(head.LastModified!.getTime() / 1000));
});

test('cat, dd with skip and diff read byte-exact contents', MOUNT_TEST, async () => {
  const got = await fs.readFile(path.join(m.mnt, 'docs/big.bin'));
  assert.ok(got.equals(big), 'big.bin differs');
  const r = await run('cat', [path.join(m.mnt, 'docs/small.bin')]);
  assert.ok(r.stdoutBytes.equals(small));
  const dd = await run('dd', [`if=${path.join(m.mnt, 'docs/big.bin')}`, 'bs=4096', 'skip=1000', 'count=3', 'status=none']);
  assert.equal(dd.code, 0, dd.stderr);
  assert.ok(dd.stdoutBytes.equals(big.subarray(4096 * 1000, 4096 * 1003)));
  const local = await tempDir();
  await fs.writeFile(path.join(local, 'big.bin'), big);
  await sh('diff', [path.join(local, 'big.bin'), path.join(m.mnt, 'docs/big.bin')]);
});

test('find lists the tree; cp -r, tar c and rsync copy it out exactly', MOUNT_TEST, async () => {
  const found = (await sh('find', [path.join(m.mnt, 'docs')]))
    .trim()
    .split('\n')
    .map((p) => path.relative(m.mnt, p))
    .sort();
  assert.deepEqual(found, ['docs', 'docs/big.bin', 'docs/hello.txt', 'docs/small.bin', 'docs/sub', 'docs/sub/deep', 'docs/sub/deep/leaf.txt']);
  const named = (await sh('find', [m.mnt, '-name', 'leaf.txt'])).trim();
  assert.equal(named, path.join(m.mnt, 'docs/sub/deep/leaf.txt'));

  const out = await tempDir();
  await sh('cp', ['-r', path.join(m.mnt, 'docs'), path.join(out, 'cp')]);
  await sh('diff', ['-r', path.join(m.mnt, 'docs'), path.join(out, 'cp')]);

  await sh('tar', ['cf', path.join(out, 'docs.tar'), '-C', m.mnt, 'docs']);
  await fs.mkdir(path.join(out, 'untar'));
  await sh('tar', ['xf', path.join(out, 'docs.tar'), '-C', path.join(out, 'untar')]);
  await sh('diff', ['-r', path.join(m.mnt, 'docs'), path.join(out, 'untar/docs')]);

  await sh('rsync', ['-a', path.join(m.mnt, 'docs') + '/', path.join(out, 'rsync')]);
  await sh('diff', ['-r', path.join(m.mnt, 'docs'), path.join(out, 'rsync')]);
  // rsync -a kept the mtimes it saw (X-Amz-Meta-Mtime)
  assert.equal((await fs.stat(path.join(out, 'rsync/hello.txt'))).mtimeMs, 1500000000500);
});

test('write whole files: cp in, overwrite, append; read back byte-exact, stored in the bucket', MOUNT_TEST, async () => {
  const local = await tempDir();
  const data = randomBytes(3 * 1024 * 1024 + 7);
  await fs.writeFile(path.join(local, 'in.bin'), data);
  await sh('cp', [path.join(local, 'in.bin'), path.join(m.mnt, 'in.bin')]);
  assert.ok((await fs.readFile(path.join(m.mnt, 'in.bin'))).equals(data));
  const c = s3.directClient();
  const obj = await c.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'in.bin' }));
  assert.ok(Buffer.from(await obj.Body!.transformToByteArray()).equals(data));
  assert.match(obj.Metadata?.mtime ?? '', /^\d+(\.\d+)?$/, 'the upload carries X-Amz-Meta-Mtime');

  await fs.writeFile(path.join(m.mnt, 'note.txt'), 'first\n');
  await fs.appendFile(path.join(m.mnt, 'note.txt'), 'second\n');
  assert.equal(await fs.readFile(path.join(m.mnt, 'note.txt'), 'utf8'), 'first\nsecond\n');
  await fs.writeFile(path.join(m.mnt, 'note.txt'), 'replaced\n');
  const got = await c.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'note.txt' }));
  assert.equal(await got.Body!.transformToString(), 'replaced\n');
  c.destroy();

  // a random-offset write in the middle of an existing file
  const fh = await fs.open(path.join(m.mnt, 'in.bin'), 'r+');
  await fh.write(Buffer.from('XYZ'), 0, 3, 1_000_000);
  await fh.close();
  const expect = Buffer.from(data);
  expect.write('XYZ', 1_000_000);
  assert.ok((await fs.readFile(path.join(m.mnt, 'in.bin'))).equals(expect));

  // touch -d sets the stored mtime
  await sh('touch', ['-d', '2021-01-02 03:04:05.678', path.join(m.mnt, 'note.txt')]);
  const head = await boto3(s3.directEndpoint, `print(s3.head_object(Bucket="${BUCKET}", Key="note.txt")["Metadata"]["mtime"])`);
  assert.equal(head.trim(), '1609556645.678');
  // truncate to zero
  await sh('truncate', ['-s', '0', path.join(m.mnt, 'note.txt')]);
  assert.equal((await fs.stat(path.join(m.mnt, 'note.txt'))).size, 0);
});

test('mkdir -p, rmdir, rm -r, mv of files and directories', MOUNT_TEST, async () => {
  await sh('mkdir', ['-p', path.join(m.mnt, 'a/b/c')]);
  await fs.writeFile(path.join(m.mnt, 'a/b/c/f1.txt'), 'one');
  await fs.writeFile(path.join(m.mnt, 'a/b/f2.txt'), 'two');
  await fs.mkdir(path.join(m.mnt, 'a/empty'));

  // rmdir of a non-empty directory: ENOTEMPTY
  await assert.rejects(fs.rmdir(path.join(m.mnt, 'a/b')), { code: 'ENOTEMPTY' });

  // mv a file
  await sh('mv', [path.join(m.mnt, 'a/b/f2.txt'), path.join(m.mnt, 'a/f2-moved.txt')]);
  assert.equal(await fs.readFile(path.join(m.mnt, 'a/f2-moved.txt'), 'utf8'), 'two');
  await assert.rejects(fs.stat(path.join(m.mnt, 'a/b/f2.txt')), { code: 'ENOENT' });

  // mv a directory (with an empty subdirectory) and check everything moved, in the bucket too
  await sh('mv', [path.join(m.mnt, 'a'), path.join(m.mnt, 'z')]);
  await assert.rejects(fs.stat(path.join(m.mnt, 'a')), { code: 'ENOENT' });
  assert.equal(await fs.readFile(path.join(m.mnt, 'z/b/c/f1.txt'), 'utf8'), 'one');
  assert.ok((await fs.stat(path.join(m.mnt, 'z/empty'))).isDirectory());
  const keys = JSON.parse(
    await boto3(s3.directEndpoint, `print(json.dumps(sorted(o["Key"] for o in s3.list_objects_v2(Bucket="${BUCKET}").get("Contents", []))))`),
  ) as string[];
  assert.ok(keys.includes('z/b/c/f1.txt') && keys.includes('z/empty/') && keys.includes('z/f2-moved.txt'), keys.join(','));
  assert.ok(!keys.some((k) => k.startsWith('a/')), `old keys left: ${keys.join(',')}`);

  // rename onto an existing file replaces it; a directory onto a non-empty one is ENOTEMPTY
  await fs.writeFile(path.join(m.mnt, 'z/target.txt'), 'old');
  await fs.rename(path.join(m.mnt, 'z/f2-moved.txt'), path.join(m.mnt, 'z/target.txt'));
  assert.equal(await fs.readFile(path.join(m.mnt, 'z/target.txt'), 'utf8'), 'two');
  await fs.mkdir(path.join(m.mnt, 'other'));
  await assert.rejects(fs.rename(path.join(m.mnt, 'other'), path.join(m.mnt, 'z/b')), { code: 'ENOTEMPTY' });
  await assert.rejects(fs.rename(path.join(m.mnt, 'other'), path.join(m.mnt, 'z/target.txt')), { code: 'ENOTDIR' });
  await assert.rejects(fs.rename(path.join(m.mnt, 'z/target.txt'), path.join(m.mnt, 'other')), { code: 'EISDIR' });
  // onto an empty directory: replaced
  await fs.mkdir(path.join(m.mnt, 'other/inner'));
  await fs.rename(path.join(m.mnt, 'other'), path.join(m.mnt, 'z/empty'));
  assert.ok((await fs.stat(path.join(m.mnt, 'z/empty/inner'))).isDirectory());

  await sh('rm', ['-r', path.join(m.mnt, 'z')]);
  await assert.rejects(fs.stat(path.join(m.mnt, 'z')), { code: 'ENOENT' });
  const left = await boto3(s3.directEndpoint, `print(json.dumps([o["Key"] for o in s3.list_objects_v2(Bucket="${BUCKET}", Prefix="z").get("Contents", [])]))`);
  assert.deepEqual(JSON.parse(left), []);
  await fs.rmdir(path.join(m.mnt, 'console-dir'));
  await assert.rejects(fs.stat(path.join(m.mnt, 'console-dir')), { code: 'ENOENT' });
});

test('directory markers: ours are dir/ keys for boto3 and bucketfs lsd; a console marker is an empty directory', MOUNT_TEST, async () => {
  await fs.mkdir(path.join(m.mnt, 'made-here'));
  const head = await boto3(s3.directEndpoint, `r = s3.head_object(Bucket="${BUCKET}", Key="made-here/"); print(r["ContentLength"])`);
  assert.equal(head.trim(), '0');
  const lsd = await bucketfs(['lsd', `moto:${BUCKET}`], { env: mountEnv(s3) });
  assert.equal(lsd.code, 0, lsd.stderr);
  assert.match(lsd.stdout, /made-here/);

  await boto3(s3.directEndpoint, `s3.put_object(Bucket="${BUCKET}", Key="boto-dir/", Body=b"")`);
  // the root's listing is cached: SIGHUP makes the marker made elsewhere visible at once
  await sighup(m);
  const st = await fs.stat(path.join(m.mnt, 'boto-dir'));
  assert.ok(st.isDirectory());
  assert.deepEqual(await fs.readdir(path.join(m.mnt, 'boto-dir')), []);
  // readdir of the root shows each directory once, never the marker as a file
  const root = await fs.readdir(m.mnt, { withFileTypes: true });
  const names = root.map((d) => d.name);
  assert.equal(names.filter((n) => n === 'made-here').length, 1);
  assert.ok(root.find((d) => d.name === 'made-here')!.isDirectory());
});

test(
  'chmod/chown of a file show at once (posix-attrs.test.ts: stored); of a directory are kept while mounted; link and mknod (mkfifo) are EPERM (symlinks: links.test.ts); ls -a shows . and ..; df shows 1 PiB',
  MOUNT_TEST,
  async () => {
    const f = path.join(m.mnt, 'perm.txt');
    await fs.writeFile(f, 'x');
    await fs.chmod(f, 0o600);
    assert.equal((await fs.stat(f)).mode & 0o777, 0o600);
    await fs.chown(f, 0, 0);
    await fs.mkdir(path.join(m.mnt, 'perm-dir'));
    await fs.chmod(path.join(m.mnt, 'perm-dir'), 0o700);
    assert.equal((await fs.stat(path.join(m.mnt, 'perm-dir'))).mode & 0o777, 0o700, "a directory's mode is kept for the life of the mount");
    // readdir(3) drops an entry whose d_ino is 0: "." and ".." must come with another
    const dots = await sh('ls', ['-a', path.join(m.mnt, 'perm-dir')]);
    assert.deepEqual(dots.trim().split('\n'), ['.', '..']);
    await assert.rejects(fs.link(f, path.join(m.mnt, 'hard')), { code: 'EPERM' });
    const mkfifo = await run('mkfifo', [path.join(m.mnt, 'fifo')]);
    assert.notEqual(mkfifo.code, 0);
    assert.match(mkfifo.stderr, /not permitted/i);
    const df = await sh('df', ['-B1', '--output=size,avail', m.mnt]);
    const [size, avail] = df.trim().split('\n')[1]!.trim().split(/\s+/).map(Number);
    assert.equal(size, 2 ** 50);
    assert.equal(avail, 2 ** 50);
    // extended attributes: not supported, cleanly (EOPNOTSUPP)
    const xattr = await run('python3', ['-c', 'import os, sys\ntry:\n  os.setxattr(sys.argv[1], "user.x", b"1")\nexcept OSError as e:\n  print(e.errno)', f]);
    assert.equal(xattr.stdout.trim(), '95');
  },
);
