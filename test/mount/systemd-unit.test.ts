// The systemd units of contrib/systemd, run from their own lines: systemd is not running on the
// test machine, so test/helpers/systemd-unit.ts parses each unit and runs ExecStartPre=/ExecStart=
// with the environment systemd would give (Environment=, EnvironmentFile=, CacheDirectory=,
// NOTIFY_SOCKET from a stand-in socket), and stops the main process as systemd does (KillMode=mixed:
// SIGTERM to it alone). What is checked: READY=1 arrives only once the mount works (at its arrival
// the mount is there and lists the bucket), a start that cannot mount never says READY=1 and leaves
// nothing, the stop uploads what is pending before the process exits 0, and a killed run's dead
// mount point is cleaned by the next start. systemd-analyze verify checks both files' syntax.
// The user unit runs as root here with a user's environment (HOME): /dev/fuse of the test machine
// is root's alone, so a non-root FUSE mount cannot be made on it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { run } from '../helpers/run.js';
import { repoRoot, TEST_ACCESS_KEY, TEST_REGION, TEST_SECRET_KEY } from '../helpers/s3-server.js';
import { isMounted, tempDir, useS3Bucket, writePending, MOUNT_TEST } from '../helpers/mount.js';
import { cleanupDetachedMounts, mountProcesses, trackMountpoint, watcherProcesses } from '../helpers/detached-mounts.js';
import { NotifySocket } from '../helpers/notify-socket.js';
import { readUnitFile, setting, settings, startUnit, stopUnit, systemdEscape, type UnitContext, type UnitFile } from '../helpers/systemd-unit.js';
import { waitFor } from '../helpers/mount.js';

const BUCKET = 'unit-bucket';
const SYSTEM_UNIT = path.join(repoRoot, 'contrib/systemd/system/bucketfs@.service');
const USER_UNIT = path.join(repoRoot, 'contrib/systemd/user/bucketfs@.service');
/** systemd's PATH for services, with this repository's bin/ first: `bucketfs` resolves to it */
const SERVICE_PATH = `${path.join(repoRoot, 'bin')}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`;

const sockets: NotifySocket[] = [];
const bucket = useS3Bucket(BUCKET, {
  async setup(s3) {
    await s3.putObject(BUCKET, 'existing.txt', 'existing');
  },
  async teardown() {
    for (const s of sockets) s.stop();
    cleanupDetachedMounts();
  },
});

function configText(): string {
  return (
    [
      '[moto]',
      'type = s3',
      'provider = Other',
      `endpoint = ${bucket.s3.endpoint}`,
      `access_key_id = ${TEST_ACCESS_KEY}`,
      `secret_access_key = ${TEST_SECRET_KEY}`,
      `region = ${TEST_REGION}`,
    ].join('\n') + '\n'
  );
}

interface SystemSetup {
  ctx: UnitContext;
  /** where the unit mounts (relocated /mnt/bucketfs/<instance>) */
  mnt: string;
  notify: NotifySocket;
}

/** The system unit's world in a temporary directory: /etc/bucketfs (rclone.conf, the instance's .env), /var/cache/bucketfs, /mnt/bucketfs. */
async function systemSetup(instance: string, envFile: string[] = []): Promise<SystemSetup> {
  const root = await tempDir('bucketfs-unit-');
  const relocate = { '/etc/bucketfs': path.join(root, 'etc'), '/var/cache/bucketfs': path.join(root, 'cache'), '/mnt/bucketfs': path.join(root, 'mnt') };
  await fs.mkdir(relocate['/etc/bucketfs']);
  await fs.writeFile(path.join(relocate['/etc/bucketfs'], 'rclone.conf'), configText(), { mode: 0o600 });
  if (envFile.length > 0)
    await fs.writeFile(path.join(relocate['/etc/bucketfs'], `${systemdEscape(instance)}.env`), envFile.join('\n') + '\n', { mode: 0o600 });
  const mnt = trackMountpoint(path.join(relocate['/mnt/bucketfs'], instance));
  const notify = await NotifySocket.start(root, mnt);
  sockets.push(notify);
  // what systemd gives a system service without User=: no HOME
  const baseEnv = { PATH: SERVICE_PATH, NOTIFY_SOCKET: notify.path, INVOCATION_ID: randomUUID().replace(/-/g, '') };
  return { ctx: { instance, relocate, baseEnv }, mnt, notify };
}

function checkStopSettings(unit: UnitFile): void {
  assert.equal(setting(unit, 'Service', 'Type'), 'notify');
  assert.equal(setting(unit, 'Service', 'NotifyAccess'), 'all', 'READY=1 comes from systemd-notify, a child process');
  assert.equal(setting(unit, 'Service', 'KillMode'), 'mixed', 'SIGTERM to bucketfs alone');
  assert.equal(setting(unit, 'Service', 'KillSignal'), undefined, 'SIGTERM');
  assert.deepEqual(settings(unit, 'Service', 'ExecStop'), [], 'the stop is the SIGTERM');
  const [start] = settings(unit, 'Service', 'ExecStart');
  assert.match(start!, /^bucketfs mount %I /);
}

test('both units pass systemd-analyze verify', MOUNT_TEST, async (t) => {
  if ((await run('sh', ['-c', 'command -v systemd-analyze'])).code !== 0) return t.skip('systemd-analyze is not installed');
  const dir = await tempDir('bucketfs-verify-');
  for (const [file, user] of [
    [SYSTEM_UNIT, false],
    [USER_UNIT, true],
  ] as const) {
    // an instance of the template, with bucketfs where systemd-analyze can find it
    const text = (await fs.readFile(file, 'utf8')).replace(/^ExecStart=bucketfs /m, `ExecStart=${path.join(repoRoot, 'bin/bucketfs')} `);
    const copy = path.join(dir, 'bucketfs@verify.service');
    await fs.writeFile(copy, text);
    const r = await run('systemd-analyze', [...(user ? ['--user'] : []), 'verify', '--man=no', copy], {
      env: { ...process.env, XDG_RUNTIME_DIR: dir, SYSTEMD_LOG_LEVEL: 'warning' },
    });
    assert.equal(r.code, 0, `${file}: ${r.stdout}${r.stderr}`);
    assert.equal(r.stdout + r.stderr, '', `${file}: ${r.stdout}${r.stderr}`);
  }
});

test(
  'system unit: ExecStart mounts and READY=1 arrives only once the mount answers; the stop (SIGTERM, KillMode=mixed) uploads what is pending, unmounts, exit 0',
  MOUNT_TEST,
  async () => {
    const unit = readUnitFile(SYSTEM_UNIT);
    checkStopSettings(unit);
    // the instance has a dash: systemd-escape writes it \x2d, %I gives it back
    const { ctx, mnt, notify } = await systemSetup(`moto:${BUCKET}`, ['# this instance', 'RCLONE_VFS_WRITE_BACK=10m']);
    const started = await startUnit(unit, ctx);
    const ready = await notify.next('READY', () => started.main.exitCode !== null);
    assert.ok(ready, `READY=1 before the process ended: ${started.output()}`);
    assert.ok(ready.mounted, 'mounted when READY=1 arrived');
    assert.ok(ready.listing?.includes('existing.txt'), `the bucket listed when READY=1 arrived (${ready.listing_error ?? ''})`);
    assert.equal(ready.fields.STATUS, `mounted moto:${BUCKET} on ${mnt}`);
    assert.equal(notify.messages.indexOf(ready), 0, 'READY=1 is the first message');

    const data = Buffer.alloc(120_000, 'u');
    await writePending(path.join(mnt, 'pending.bin'), data);
    assert.equal(await bucket.getObject('pending.bin'), null, 'pending (RCLONE_VFS_WRITE_BACK=10m from the instance file)');
    assert.equal(mountProcesses(mnt).length, 1);
    assert.ok((await fs.readdir(ctx.relocate['/var/cache/bucketfs']!)).includes('vfs'), 'the cache is in CacheDirectory=');

    const stopped = await stopUnit(unit, ctx, started);
    assert.deepEqual(stopped, { code: 0, signal: null }, started.output());
    assert.ok(!isMounted(mnt));
    assert.ok((await bucket.getObject('pending.bin'))?.equals(data), 'uploaded before the process exited');
    assert.ok(await notify.next('STOPPING', () => false, 30_000), 'STOPPING=1 was said');
  },
);

test('system unit: a start that cannot mount ends non-zero with the reason, never says READY=1, and leaves nothing mounted', MOUNT_TEST, async () => {
  const unit = readUnitFile(SYSTEM_UNIT);
  const { ctx, mnt, notify } = await systemSetup('moto:no-such-bucket');
  const started = await startUnit(unit, ctx);
  const r = await started.exited;
  assert.notEqual(r.code, 0);
  assert.match(started.output(), /bucket "no-such-bucket" does not exist/);
  assert.equal(notify.find('READY'), undefined);
  assert.ok(!isMounted(mnt));
});

test("system unit: a killed run's dead mount point (main process and its watcher killed) is cleaned by the next start", MOUNT_TEST, async () => {
  const unit = readUnitFile(SYSTEM_UNIT);
  const { ctx, mnt, notify } = await systemSetup(`moto:${BUCKET}`);
  const first = await startUnit(unit, ctx);
  assert.ok(await notify.next('READY', () => first.main.exitCode !== null), first.output());
  // what the final SIGKILL of a stop that timed out does to the whole unit
  for (const pid of [first.main.pid!, ...watcherProcesses(mnt)]) process.kill(pid, 'SIGKILL');
  await first.exited;
  await waitFor(() => watcherProcesses(mnt).length === 0, 20_000, 'the watcher to die');
  assert.ok(isMounted(mnt), 'a dead mount is left');
  notify.messages.length = 0;

  const second = await startUnit(unit, ctx);
  const ready = await notify.next('READY', () => second.main.exitCode !== null);
  assert.ok(ready?.mounted, second.output());
  assert.ok(ready.listing?.includes('existing.txt'), ready.listing_error);
  assert.match(second.output(), /stale FUSE mount found/);
  assert.deepEqual(await stopUnit(unit, ctx, second), { code: 0, signal: null }, second.output());
  assert.ok(!isMounted(mnt));
});

test("user unit: the user's rclone.conf and cache, a mount point under ~; READY=1 once mounted, the stop uploads and unmounts", MOUNT_TEST, async () => {
  const unit = readUnitFile(USER_UNIT);
  checkStopSettings(unit);
  const home = await tempDir('bucketfs-home-');
  await fs.mkdir(path.join(home, '.config/rclone'), { recursive: true });
  await fs.writeFile(path.join(home, '.config/rclone/rclone.conf'), configText(), { mode: 0o600 });
  await fs.mkdir(path.join(home, '.config/bucketfs'));
  const instance = `moto:${BUCKET}`;
  await fs.writeFile(path.join(home, '.config/bucketfs', `${systemdEscape(instance)}.env`), 'RCLONE_VFS_WRITE_BACK=10m\n');
  const mnt = trackMountpoint(path.join(home, 'bucketfs', instance));
  const notify = await NotifySocket.start(home, mnt);
  sockets.push(notify);
  // what a user manager gives its services
  const baseEnv = { PATH: SERVICE_PATH, HOME: home, NOTIFY_SOCKET: notify.path, INVOCATION_ID: randomUUID().replace(/-/g, '') };
  const ctx: UnitContext = { instance, home, relocate: {}, baseEnv };

  const started = await startUnit(unit, ctx);
  const ready = await notify.next('READY', () => started.main.exitCode !== null);
  assert.ok(ready?.mounted, started.output());
  assert.ok(ready.listing?.includes('existing.txt'), ready.listing_error);
  const data = Buffer.alloc(90_000, 'h');
  await writePending(path.join(mnt, 'from-user.bin'), data);
  assert.equal(await bucket.getObject('from-user.bin'), null, 'pending (the instance file of ~/.config/bucketfs)');
  assert.ok((await fs.readdir(path.join(home, '.cache/bucketfs'))).includes('vfs'), 'the cache in ~/.cache/bucketfs');

  assert.deepEqual(await stopUnit(unit, ctx, started), { code: 0, signal: null }, started.output());
  assert.ok(!isMounted(mnt));
  assert.ok((await bucket.getObject('from-user.bin'))?.equals(data));
});
