// The mount helper's translation of mount(8)'s call (`mount.bucketfs SPEC DIR [-sfnv] -o …`) into
// `bucketfs mount --daemon` flags, and install-helper's rules (it replaces and removes only its
// own script).
// The real mount(8), fstab and systemd paths are test/mount/mount-helper.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { helperExitCode, optionFlags, parseHelperCall, splitOptions } from '../../src/cli/mount-helper.js';
import { HELPER_NAME, helperScript, helperState, installHelper, uninstallHelper } from '../../src/cli/install-helper.js';
import { redactedArguments } from '../../src/cli/hidden-args.js';
import { UserError } from '../../src/util/errors.js';

test('mount(8) call → bucketfs mount --daemon: own flags with - or _, ro/rw, kernel flags, mount(8)/systemd options ignored', () => {
  const call = parseHelperCall([
    'moto:bkt/dir',
    '/mnt/x',
    '-v',
    '-o',
    'rw,noexec,nosuid,nodev,config=/etc/rclone.conf,cache_dir=/var/cache/b,allow_other,uid=1000,gid=100,umask=027,vfs_cache_mode=full,' +
      'vfs-write-back=10s,_netdev,nofail,user,users,auto,noauto,defaults,x-systemd.automount,x-systemd.mount-timeout=30,comment=x,relatime,noatime,s3-region=eu-west-1,read_only',
  ]);
  assert.equal(call.fake, false);
  assert.deepEqual(call.mountArguments, [
    'mount',
    'moto:bkt/dir',
    '/mnt/x',
    '--daemon',
    '--mount-helper',
    '--read-only=false',
    '--option=noexec',
    '--option=nosuid',
    '--option=nodev',
    '--config=/etc/rclone.conf',
    '--cache-dir=/var/cache/b',
    '--allow-other',
    '--uid=1000',
    '--gid=100',
    '--umask=027',
    '--vfs-cache-mode=full',
    '--vfs-write-back=10s',
    '--option=noatime',
    '--s3-region=eu-west-1',
    '--read-only',
    '-v',
  ]);
  assert.deepEqual(parseHelperCall(['r:b', '/m', '-o', 'ro']).mountArguments.slice(5), ['--read-only=true']);
  // -oOPTS, several -o, -sfn, -t (mount.fuse's way), a value in quotes that holds commas
  assert.deepEqual(parseHelperCall(['-n', 'r:b', '/m', '-oallow_root', '-t', 'bucketfs', '-o', 'config="/etc/a,b.conf"']).mountArguments.slice(5), [
    '--allow-root',
    '--config=/etc/a,b.conf',
  ]);
  assert.equal(parseHelperCall(['r:b', '/m', '-f', '-o', 'ro']).fake, true);
  assert.deepEqual(splitOptions('a,"b,c",d=""'), ['a', 'b,c', 'd=']);
});

test('mount(8) call: a bad option or call is one line naming it (mount(8) exit 1); -s skips unknown options', () => {
  const fails = (args: string[], re: RegExp) => {
    assert.throws(
      () => parseHelperCall(args),
      (e: unknown) => e instanceof UserError && re.test(e.message) && !e.message.includes('\n') && helperExitCode(e.exitCode) === 1,
    );
  };
  fails(['r:b', '/m', '-o', 'config=/c,bogus_option=1'], /unknown mount option "bogus_option"/);
  fails(['r:b', '/m', '-o', 'cache-dir'], /mount option cache-dir needs a value/);
  fails(['r:b', '/m', '-o', 'daemon'], /daemon: mount.bucketfs always runs the mount in the background/);
  fails(['r:b', '/m', '-o', 'config="/a'], /unterminated/);
  fails(['r:b', '/m', '-o'], /-o without options/);
  fails(['r:b', '/m', '-N', '/proc/1/ns/mnt'], /namespaces/);
  fails(['r:b', '/m', '-x'], /unknown flag -x/);
  fails(['r:b'], /expected the remote path and the mount point/);
  assert.deepEqual(optionFlags(['bogus', 'ro'], true), ['--read-only=true']);
  assert.deepEqual(parseHelperCall(['r:b', '/m', '-s', '-o', 'bogus,ro']).mountArguments.slice(5), ['--read-only=true']);
  // mount(8)'s codes: 0, 1 for a usage error, 32 for a mount that failed
  assert.deepEqual([0, 1, 2, 3, 7].map(helperExitCode), [0, 1, 32, 32, 32]);
});

test('a secret given as a mount option is *** in what ps shows of the translated command', () => {
  const args = parseHelperCall(['r:b', '/m', '-o', 's3_secret_access_key=SEKRIT,config=/c']).mountArguments;
  const shown = redactedArguments(args)!;
  assert.ok(!shown.join(' ').includes('SEKRIT'), shown.join(' '));
  assert.ok(shown.includes('--s3-secret-access-key=***'));
});

test('install-helper writes a script that runs this bucketfs with this node; it replaces and removes only its own', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bucketfs-helper-dir-'));
  try {
    const file = path.join(dir, HELPER_NAME);
    assert.equal(await uninstallHelper(dir), false, 'nothing to remove');
    assert.equal(await installHelper(dir, "/opt/it's/bin/bucketfs", '/opt/node/bin/node'), file);
    const text = await fs.readFile(file, 'utf8');
    assert.equal(text, helperScript("/opt/it's/bin/bucketfs", '/opt/node/bin/node'));
    assert.match(text, /^#!\/bin\/sh\n/);
    assert.match(text, /^PATH='\/opt\/node\/bin':/m);
    assert.match(text, /^exec '\/opt\/it'\\''s\/bin\/bucketfs' mount-helper "\$@"$/m);
    assert.equal((await fs.stat(file)).mode & 0o777, 0o755);
    assert.equal(await helperState(file), 'ours');
    // again: replaced (a new path)
    await installHelper(dir, '/usr/lib/bucketfs/bin/bucketfs', '/usr/bin/node');
    assert.match(await fs.readFile(file, 'utf8'), /exec '\/usr\/lib\/bucketfs\/bin\/bucketfs'/);
    assert.deepEqual(
      (await fs.readdir(dir)).filter((n) => n !== HELPER_NAME),
      [],
      'no temporary file left',
    );
    assert.equal(await uninstallHelper(dir), true);
    await assert.rejects(fs.stat(file), { code: 'ENOENT' });

    // someone else's helper, a file or a symlink (rclone's way): never replaced, never removed
    await fs.writeFile(file, '#!/bin/sh\n# another mount.bucketfs\nexit 0\n', { mode: 0o755 });
    await assert.rejects(installHelper(dir, '/x/bucketfs', '/usr/bin/node'), /was not written by bucketfs install-helper: left alone/);
    await assert.rejects(uninstallHelper(dir), /was not written by bucketfs install-helper: left alone/);
    assert.match(await fs.readFile(file, 'utf8'), /another mount.bucketfs/);
    await fs.rm(file);
    await fs.symlink('/usr/bin/true', file);
    assert.equal(await helperState(file), 'foreign');
    await assert.rejects(uninstallHelper(dir), /left alone/);
    assert.equal(await fs.readlink(file), '/usr/bin/true');
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});
