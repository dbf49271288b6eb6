// mount(8) and fstab through the helper: `bucketfs install-helper` puts /sbin/mount.bucketfs in
// place (removed at the end, unless one was there before, which is then put back as it was), and
// the real `mount -t bucketfs`, `mount -a -T FSTAB` and `umount` run with a minimal environment
// (no HOME, no RCLONE_*), as systemd's mount units run them. Also: a failed helper mount leaves
// nothing behind, and dead mount points (a killed mount whose fusermount3 watcher died too).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { bucketfs, run, type RunResult } from '../helpers/run.js';
import { TEST_ACCESS_KEY, TEST_REGION, TEST_SECRET_KEY } from '../helpers/s3-server.js';
import { isMounted, tempDir, useS3Bucket, waitFor, writePending, MOUNT_HOOK, MOUNT_TEST } from '../helpers/mount.js';
import { cleanupDetachedMounts, mountCommandLines, mountProcesses, trackMountpoint, waitForExit, watcherProcesses } from '../helpers/detached-mounts.js';
import { HELPER_NAME } from '../../src/cli/install-helper.js';

const BUCKET = 'helper-bucket';
const HELPER = path.join('/sbin', HELPER_NAME);
/** what mount(8) gets from systemd: a PATH, nothing else */
const MINIMAL_ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' };

/** the helper that was there before the tests, to put back (undefined: none) */
let previousHelper: { text: string; mode: number } | undefined;
let helperInstalled = false;

const bucket = useS3Bucket(BUCKET, {
  async setup(s3) {
    await s3.putObject(BUCKET, 'existing.txt', 'existing');
    await s3.putObject(BUCKET, 'sub/inside.txt', 'inside');
  },
  // first in after(): the mounts the helper started, before the server stops
  async teardown() {
    cleanupDetachedMounts();
  },
});

before(async () => {
  const st = await fs.lstat(HELPER).catch(() => undefined);
  if (st) previousHelper = { text: await fs.readFile(HELPER, 'utf8'), mode: st.mode & 0o7777 };
  const r = await bucketfs(['install-helper'], { timeoutMs: 30_000 });
  assert.equal(r.code, 0, r.stderr);
  helperInstalled = true;
  assert.match(r.stdout, /^installed \/sbin\/mount\.bucketfs: /);
}, MOUNT_HOOK);

after(async () => {
  if (!helperInstalled) return;
  if (previousHelper) {
    await fs.writeFile(HELPER, previousHelper.text, { mode: previousHelper.mode });
    await fs.chmod(HELPER, previousHelper.mode);
  } else {
    const r = await bucketfs(['install-helper', '--uninstall'], { timeoutMs: 30_000 });
    assert.equal(r.code, 0, r.stderr);
    await assert.rejects(fs.lstat(HELPER), { code: 'ENOENT' }, 'the helper was removed');
  }
});

/** an rclone.conf with the remote `moto` (the secret key left out when `withSecret` is false) */
async function writeConfig(withSecret = true): Promise<string> {
  const file = path.join(await tempDir('bucketfs-conf-'), 'rclone.conf');
  const lines = [
    '[moto]',
    'type = s3',
    'provider = Other',
    `endpoint = ${bucket.s3.endpoint}`,
    `access_key_id = ${TEST_ACCESS_KEY}`,
    `region = ${TEST_REGION}`,
  ];
  if (withSecret) lines.push(`secret_access_key = ${TEST_SECRET_KEY}`);
  await fs.writeFile(file, lines.join('\n') + '\n', { mode: 0o600 });
  return file;
}

async function mountPoint(): Promise<string> {
  return trackMountpoint(await tempDir('bucketfs-mnt-'));
}

function mountCmd(args: string[]): Promise<RunResult> {
  return run('mount', args, { env: MINIMAL_ENV, timeoutMs: 120_000 });
}

function umount(mnt: string): Promise<RunResult> {
  return run('umount', [mnt], { env: MINIMAL_ENV, timeoutMs: 60_000 });
}

/** the mountinfo entries at `mnt` */
async function mountsAt(mnt: string): Promise<string[]> {
  const text = await fs.readFile('/proc/self/mountinfo', 'utf8');
  return text.split('\n').filter((l) => l.split(' ')[4] === mnt);
}

/** what a dead FUSE mount answers: ENOTCONN, or ECONNABORTED when a request was in flight as it died */
function isDead(err: NodeJS.ErrnoException): boolean {
  return err.code === 'ENOTCONN' || err.code === 'ECONNABORTED';
}

function oneLine(stderr: string): string {
  const lines = stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line on stderr: ${stderr}`);
  return lines[0]!;
}

test(
  'mount -t bucketfs SPEC DIR -o …: mounted when mount returns, with the options applied; umount uploads what is pending, then the process ends',
  MOUNT_TEST,
  async () => {
    const conf = await writeConfig(false);
    const mnt = await mountPoint();
    const cache = await tempDir('bucketfs-cache-');
    const opts = [
      `config=${conf}`,
      `cache-dir=${cache}`,
      // the secret as an option: never on a command line of a bucketfs process
      `s3_secret_access_key=${TEST_SECRET_KEY}`,
      'vfs_cache_mode=writes',
      'vfs-write-back=10m',
      'allow_other',
      'uid=1234',
      'gid=2345',
      'umask=027',
      'noexec',
      '_netdev',
      'nofail',
      'x-systemd.automount',
      'x-systemd.mount-timeout=30',
    ].join(',');
    const r = await mountCmd(['-t', 'bucketfs', `moto:${BUCKET}`, mnt, '-o', opts]);
    assert.equal(r.code, 0, r.stderr);
    const mountedWhenReturned = isMounted(mnt);
    assert.equal(r.stdout + r.stderr, '', 'a helper says nothing once mounted');
    assert.ok(mountedWhenReturned, 'mounted when mount(8) returned');

    assert.equal(await fs.readFile(path.join(mnt, 'existing.txt'), 'utf8'), 'existing');
    const st = await fs.stat(path.join(mnt, 'existing.txt'));
    assert.deepEqual([st.uid, st.gid, st.mode & 0o777], [1234, 2345, 0o640]);
    const [entry] = await mountsAt(mnt);
    assert.match(entry!, / - fuse\.bucketfs moto:helper-bucket /);
    assert.match(entry!, /\bnoexec\b/);
    assert.match(entry!, /\ballow_other\b/);
    const cmdlines = mountCommandLines(mnt);
    assert.equal(cmdlines.length, 1, `one mount process: ${cmdlines.join(' | ')}`);
    assert.ok(!cmdlines[0]!.includes(TEST_SECRET_KEY), `no secret in ${cmdlines[0]}`);

    const data = Buffer.alloc(200_000, 'p');
    await writePending(path.join(mnt, 'pending.bin'), data);
    assert.equal(await bucket.getObject('pending.bin'), null, 'still pending (write-back 10m)');

    const u = await umount(mnt);
    assert.equal(u.code, 0, u.stderr);
    assert.ok(!isMounted(mnt));
    await waitForExit(mnt);
    assert.ok((await bucket.getObject('pending.bin'))?.equals(data), 'uploaded before the process ended');
  },
);

test(
  'fstab: mount -a -T FILE mounts the entries without noauto, once (a second mount -a leaves them be); mount -T FILE DIR mounts a noauto one',
  MOUNT_TEST,
  async () => {
    const conf = await writeConfig();
    const [auto, manual] = [await mountPoint(), await mountPoint()];
    const fstab = path.join(await tempDir('bucketfs-fstab-'), 'fstab');
    const [cacheA, cacheM] = [await tempDir('bucketfs-cache-'), await tempDir('bucketfs-cache-')];
    await fs.writeFile(
      fstab,
      [
        '# bucketfs entries, as in /etc/fstab',
        `moto:${BUCKET}  ${auto}  bucketfs  config=${conf},cache_dir=${cacheA},_netdev,nofail,x-systemd.automount,x-systemd.idle-timeout=10min  0 0`,
        `moto:${BUCKET}/sub  ${manual}  bucketfs  noauto,user,ro,config=${conf},cache_dir=${cacheM}  0 0`,
        '',
      ].join('\n'),
    );
    const first = await mountCmd(['-a', '-T', fstab]);
    assert.equal(first.code, 0, first.stderr);
    assert.ok(isMounted(auto), 'the auto entry is mounted');
    assert.ok(!isMounted(manual), 'the noauto entry is not');
    assert.equal(await fs.readFile(path.join(auto, 'existing.txt'), 'utf8'), 'existing');

    const again = await mountCmd(['-a', '-T', fstab]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal((await mountsAt(auto)).length, 1, 'still one mount');
    assert.equal(mountProcesses(auto).length, 1, 'still one mount process');

    const byDir = await mountCmd(['-T', fstab, manual]);
    assert.equal(byDir.code, 0, byDir.stderr);
    assert.equal(await fs.readFile(path.join(manual, 'inside.txt'), 'utf8'), 'inside');
    await assert.rejects(fs.writeFile(path.join(manual, 'new.txt'), 'x'), { code: 'EROFS' }, 'ro');
    // `user` implies noexec,nosuid,nodev (mount(8) adds them), which the kernel gets
    assert.match((await mountsAt(manual))[0]!, /\bro\b.*\bnoexec\b/);

    for (const mnt of [auto, manual]) {
      const u = await umount(mnt);
      assert.equal(u.code, 0, u.stderr);
      await waitForExit(mnt);
    }
  },
);

test(
  'a helper mount that fails leaves nothing mounted and no process, and says why in one line: a bad option (exit 1), a missing bucket (exit 32)',
  MOUNT_TEST,
  async () => {
    const conf = await writeConfig();
    const mnt = await mountPoint();
    const bad = await mountCmd(['-t', 'bucketfs', `moto:${BUCKET}`, mnt, '-o', `config=${conf},vfs_cache_mode=writes,no_such_option=1`]);
    assert.equal(bad.code, 1, bad.stderr);
    assert.match(oneLine(bad.stderr), /unknown mount option "no_such_option"/);

    const badValue = await mountCmd(['-t', 'bucketfs', `moto:${BUCKET}`, mnt, '-o', `config=${conf},vfs_cache_mode=sometimes`]);
    assert.equal(badValue.code, 1, badValue.stderr);
    assert.match(oneLine(badValue.stderr), /--vfs-cache-mode "sometimes"/);

    const missing = await mountCmd(['-t', 'bucketfs', 'moto:no-such-bucket', mnt, '-o', `config=${conf}`]);
    assert.equal(missing.code, 32, missing.stderr);
    assert.match(oneLine(missing.stderr), /bucket "no-such-bucket" does not exist/);

    // no config at all (no HOME, no RCLONE_CONFIG): the remote is unknown
    const noConfig = await mountCmd(['-t', 'bucketfs', `nosuchremote:${BUCKET}`, mnt]);
    assert.equal(noConfig.code, 32, noConfig.stderr);
    assert.match(oneLine(noConfig.stderr), /nosuchremote/);

    assert.ok(!isMounted(mnt));
    assert.deepEqual(mountProcesses(mnt), []);
  },
);

test(
  'dead mount points: a killed mount leaves none (auto_unmount); with its watcher killed too, mount -a skips it as mounted, and mount -t mounts over it',
  MOUNT_TEST,
  async () => {
    const conf = await writeConfig();
    const mnt = await mountPoint();
    const opts = `config=${conf},cache_dir=${await tempDir('bucketfs-cache-')}`;
    const mountIt = async () => {
      const r = await mountCmd(['-t', 'bucketfs', `moto:${BUCKET}`, mnt, '-o', opts]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(await fs.readFile(path.join(mnt, 'existing.txt'), 'utf8'), 'existing');
    };

    await mountIt();
    for (const pid of mountProcesses(mnt)) process.kill(pid, 'SIGKILL');
    await waitFor(() => !isMounted(mnt), 20_000, 'fusermount3 to unmount the killed mount');
    await waitFor(() => watcherProcesses(mnt).length === 0, 20_000, 'the watcher to exit');

    await mountIt();
    // what a SIGKILL of a whole systemd unit does: the mount process and its watcher
    for (const pid of [...mountProcesses(mnt), ...watcherProcesses(mnt)]) process.kill(pid, 'SIGKILL');
    await waitFor(() => mountProcesses(mnt).length + watcherProcesses(mnt).length === 0, 20_000, 'the processes to die');
    assert.ok(isMounted(mnt), 'a dead mount stays in mountinfo');
    await assert.rejects(fs.stat(path.join(mnt, 'existing.txt')), isDead);

    // mount(8) -a takes the dead mount for a live one (nothing bucketfs can change)
    const fstab = path.join(await tempDir('bucketfs-fstab-'), 'fstab');
    await fs.writeFile(fstab, `moto:${BUCKET} ${mnt} bucketfs ${opts} 0 0\n`);
    const all = await mountCmd(['-a', '-T', fstab]);
    assert.equal(all.code, 0, all.stderr);
    await assert.rejects(fs.stat(path.join(mnt, 'existing.txt')), isDead, 'still dead after mount -a');

    // naming it mounts it: the helper cleans the dead mount point first
    await mountIt();
    assert.equal((await mountsAt(mnt)).length, 1, 'one mount, the dead one gone');
    const u = await umount(mnt);
    assert.equal(u.code, 0, u.stderr);
    await waitForExit(mnt);
  },
);

test('umount, then SIGTERM while the pending uploads run (a shutdown does both): the uploads still finish, and the log says so', MOUNT_TEST, async () => {
  const conf = await writeConfig();
  const mnt = await mountPoint();
  const logFile = path.join(await tempDir('bucketfs-log-'), 'mount.log');
  const r = await mountCmd([
    '-t',
    'bucketfs',
    `moto:${BUCKET}`,
    mnt,
    '-o',
    `config=${conf},cache_dir=${await tempDir('bucketfs-cache-')},vfs_write_back=10m,log-file=${logFile}`,
  ]);
  assert.equal(r.code, 0, r.stderr);
  const data = Buffer.alloc(150_000, 's');
  await writePending(path.join(mnt, 'at-shutdown.bin'), data);
  const [pid] = mountProcesses(mnt);
  assert.ok(pid !== undefined);

  // the upload is held by the server until the signal has been handled
  bucket.s3.faultHook = (req) => (req.method === 'PUT' ? 'hang' : undefined);
  try {
    const u = await umount(mnt);
    assert.equal(u.code, 0, u.stderr);
    await waitFor(() => bucket.s3.inFlight('PUT').length > 0, 30_000, 'the pending upload to start');
    process.kill(pid, 'SIGTERM');
    await waitFor(async () => /still uploading pending files after the unmount/.test(await fs.readFile(logFile, 'utf8')), 30_000, 'the log line');
  } finally {
    bucket.s3.faultHook = undefined;
    bucket.s3.releaseHung();
  }
  await waitForExit(mnt);
  assert.ok((await bucket.getObject('at-shutdown.bin'))?.equals(data), 'uploaded after the SIGTERM');
  assert.doesNotMatch(await fs.readFile(logFile, 'utf8'), /exiting now, without waiting/);
});
