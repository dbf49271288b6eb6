// Symbolic links through a real mount: stored as NAME.rclonelink objects holding the target
// (rclone's --links convention, so `rclone copy -l` makes real links of them and the reverse),
// s3fs's link objects (a mode of type S_IFLNK) shown as links, and trees with links copied in by
// cp -a and tar that come back the same after a remount.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { boto3, run } from '../helpers/run.js';
import { mount, mountEnv, tempDir, useS3Bucket, waitFor, type Mounted, MOUNT_TEST } from '../helpers/mount.js';

const BUCKET = 'links-bucket';
let m: Mounted;

const bucket = useS3Bucket(BUCKET, {
  async setup(s3) {
    // as s3fs stores a link: the object itself, its mode 0120777 in decimal, the target as body
    await boto3(s3.directEndpoint, `s3.put_object(Bucket="${BUCKET}", Key="s3fs/link", Body=b"../target.txt", Metadata={"mode": "41471"})`);
    await bucket.putObject('target.txt', 'the target\n');
    m = await mount(s3, `moto:${BUCKET}`, { flags: ['--vfs-write-back', '0s'] });
  },
  async teardown() {
    if (m) await m.unmount().catch(() => undefined);
  },
});

const mnt = (p: string) => path.join(m.mnt, p);

/** a tree with relative, absolute, dangling and directory links, and files */
async function makeTree(root: string): Promise<void> {
  await fs.mkdir(path.join(root, 'src/lib'), { recursive: true });
  await fs.writeFile(path.join(root, 'src/lib/real.js'), 'module.exports = 1;\n');
  await fs.writeFile(path.join(root, 'src/run.sh'), '#!/bin/sh\necho run\n', { mode: 0o755 });
  await fs.symlink('lib/real.js', path.join(root, 'src/index.js'));
  await fs.symlink('lib', path.join(root, 'src/libdir'));
  await fs.symlink('/etc/hostname', path.join(root, 'src/absolute'));
  await fs.symlink('does/not/exist', path.join(root, 'src/dangling'));
  await fs.symlink('ünïcode target with spaces', path.join(root, 'src/unicode'));
}

async function diffNoDeref(a: string, b: string): Promise<void> {
  const r = await run('diff', ['-r', '--no-dereference', a, b]);
  assert.equal(r.code, 0, `diff -r --no-dereference ${a} ${b}:\n${r.stdout}${r.stderr}`);
}

test(
  'cp -a of a tree with relative, absolute, dangling and directory links: lstat/readlink as in the source, followed, and the same after a remount',
  MOUNT_TEST,
  async () => {
    const dir = await tempDir();
    try {
      await makeTree(dir);
      const cp = await run('cp', ['-a', path.join(dir, 'src'), mnt('tree')]);
      assert.equal(cp.code, 0, cp.stderr);
      await diffNoDeref(path.join(dir, 'src'), mnt('tree'));
      assert.ok((await fs.lstat(mnt('tree/index.js'))).isSymbolicLink());
      assert.equal((await fs.lstat(mnt('tree/index.js'))).size, 'lib/real.js'.length, 'a link is as long as its target');
      assert.equal(await fs.readlink(mnt('tree/absolute')), '/etc/hostname');
      assert.equal(await fs.readFile(mnt('tree/index.js'), 'utf8'), 'module.exports = 1;\n', 'followed');
      assert.deepEqual(await fs.readdir(mnt('tree/libdir')), ['real.js'], 'a link to a directory is followed');
      await assert.rejects(fs.stat(mnt('tree/dangling')), { code: 'ENOENT' });
      // stored as rclone stores links: NAME.rclonelink holding the target
      assert.equal((await bucket.getObject('tree/index.js.rclonelink'))?.toString(), 'lib/real.js');
      assert.equal(await bucket.getObject('tree/index.js'), null);

      await m.unmount();
      m = await mount(bucket.s3, `moto:${BUCKET}`, { flags: ['--vfs-write-back', '0s'] });
      await diffNoDeref(path.join(dir, 'src'), mnt('tree'));
      assert.equal(await fs.readlink(mnt('tree/unicode')), 'ünïcode target with spaces');
      const ls = await run('ls', ['-l', mnt('tree')]);
      assert.match(ls.stdout, /^l[rwx-]{9} .* index\.js -> lib\/real\.js$/m);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  },
);

test(
  "tar x of an archive with links, and rclone copy -l both ways: rclone makes real links of what the mount stored, the mount shows rclone's as links",
  MOUNT_TEST,
  async () => {
    const dir = await tempDir();
    try {
      await makeTree(dir);
      const tar = await run('tar', ['-C', dir, '-cf', path.join(dir, 't.tar'), 'src']);
      assert.equal(tar.code, 0, tar.stderr);
      await fs.mkdir(mnt('untar'));
      const x = await run('tar', ['-C', mnt('untar'), '-xf', path.join(dir, 't.tar')]);
      assert.equal(x.code, 0, x.stderr);
      await diffNoDeref(path.join(dir, 'src'), mnt('untar/src'));

      const env = mountEnv(bucket.s3);
      // the mount's links, restored by rclone on a disk as real links
      const down = await run('rclone', ['copy', '-l', `moto:${BUCKET}/untar/src`, path.join(dir, 'down')], { env });
      assert.equal(down.code, 0, down.stderr);
      await diffNoDeref(path.join(dir, 'src'), path.join(dir, 'down'));
      // rclone's, uploaded from a disk: links in the mount
      const up = await run('rclone', ['copy', '-l', path.join(dir, 'src'), `moto:${BUCKET}/from-rclone`], { env });
      assert.equal(up.code, 0, up.stderr);
      await diffNoDeref(path.join(dir, 'src'), mnt('from-rclone'));
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  },
);

test(
  'links are renamed, replaced and removed as names: mv, mv over a file and a file over a link, rm, rm -r, a renamed directory keeps its links',
  MOUNT_TEST,
  async () => {
    await fs.mkdir(mnt('ops'));
    await fs.symlink('a-target', mnt('ops/l1'));
    await fs.rename(mnt('ops/l1'), mnt('ops/l2'));
    assert.equal(await fs.readlink(mnt('ops/l2')), 'a-target');
    assert.equal((await bucket.getObject('ops/l2.rclonelink'))?.toString(), 'a-target');
    assert.equal(await bucket.getObject('ops/l1.rclonelink'), null);

    // a link over a file: the file's object goes, and the reverse
    await fs.writeFile(mnt('ops/file'), 'data');
    await waitFor(async () => (await bucket.getObject('ops/file')) !== null, 30_000, 'ops/file uploaded');
    await fs.rename(mnt('ops/l2'), mnt('ops/file'));
    assert.equal(await fs.readlink(mnt('ops/file')), 'a-target');
    assert.equal(await bucket.getObject('ops/file'), null);
    await fs.writeFile(mnt('ops/other'), 'other data');
    await fs.rename(mnt('ops/other'), mnt('ops/file'));
    assert.ok((await fs.lstat(mnt('ops/file'))).isFile());
    await waitFor(async () => (await bucket.getObject('ops/file'))?.toString() === 'other data', 30_000, 'the file replacing the link uploaded');
    assert.equal(await bucket.getObject('ops/file.rclonelink'), null);

    // ln -sf replaces; a directory moves with its links; rm and rm -r take them
    await fs.symlink('x', mnt('ops/l3'));
    const lnf = await run('ln', ['-sfn', 'y', mnt('ops/l3')]);
    assert.equal(lnf.code, 0, lnf.stderr);
    assert.equal(await fs.readlink(mnt('ops/l3')), 'y');
    await fs.rename(mnt('ops'), mnt('ops2'));
    assert.equal(await fs.readlink(mnt('ops2/l3')), 'y');
    await fs.unlink(mnt('ops2/l3'));
    await assert.rejects(fs.lstat(mnt('ops2/l3')), { code: 'ENOENT' });
    assert.equal(await bucket.getObject('ops2/l3.rclonelink'), null);
    await fs.symlink('z', mnt('ops2/l4'));
    await fs.rm(mnt('ops2'), { recursive: true });
    const left = await boto3(bucket.s3.directEndpoint, `print(s3.list_objects_v2(Bucket="${BUCKET}", Prefix="ops").get("KeyCount", 0))`);
    assert.equal(left.trim(), '0');
  },
);

test("s3fs's link objects are links; lchown and touch -h of a link are stored and kept; a link is never opened as a file", MOUNT_TEST, async () => {
  const st = await fs.lstat(mnt('s3fs/link'));
  assert.ok(st.isSymbolicLink());
  assert.equal(await fs.readlink(mnt('s3fs/link')), '../target.txt');
  assert.equal(await fs.readFile(mnt('s3fs/link'), 'utf8'), 'the target\n');

  await fs.symlink('target.txt', mnt('owned'));
  await fs.lchown(mnt('owned'), 1234, 4321);
  const t = new Date('2001-02-03T04:05:06.789Z');
  await fs.lutimes(mnt('owned'), t, t);
  await fs.lchown(mnt('s3fs/link'), 77, 88);
  const check = async () => {
    const l = await fs.lstat(mnt('owned'));
    assert.deepEqual([l.uid, l.gid, l.mtime.toISOString()], [1234, 4321, t.toISOString()]);
    assert.ok((await fs.lstat(mnt('s3fs/link'))).isSymbolicLink(), 'still a link after lchown (its stored mode kept)');
    assert.equal((await fs.lstat(mnt('s3fs/link'))).uid, 77);
    assert.equal(await fs.readFile(mnt('owned'), 'utf8'), 'the target\n');
  };
  await check();
  await m.unmount();
  m = await mount(bucket.s3, `moto:${BUCKET}`, { flags: ['--vfs-write-back', '0s'] });
  await check();
  const fd = await fs.open(mnt('owned'), fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW).catch((e: NodeJS.ErrnoException) => e);
  assert.equal((fd as NodeJS.ErrnoException).code, 'ELOOP');
});

test(
  'a file named *.rclonelink is refused (EINVAL: it would read back as a link); with --vfs-links=false link objects are plain files and ln -s is EPERM',
  MOUNT_TEST,
  async () => {
    await assert.rejects(fs.writeFile(mnt('x.rclonelink'), 'data'), { code: 'EINVAL' });
    await fs.symlink('t', mnt('plain-link'));
    const off = await mount(bucket.s3, `moto:${BUCKET}`, { flags: ['--vfs-links=false'] });
    try {
      assert.equal(await fs.readFile(path.join(off.mnt, 'plain-link.rclonelink'), 'utf8'), 't');
      assert.ok((await fs.lstat(path.join(off.mnt, 's3fs/link'))).isFile());
      await assert.rejects(fs.symlink('t', path.join(off.mnt, 'nope')), { code: 'EPERM' });
    } finally {
      await off.unmount();
    }
  },
);
