// Mount options: one typed MountOptions from the option table, each value from the flag, else
// RCLONE_<FLAG>, else the table's default (src/config/mount-options.ts, vfs-options.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveVfsOptions } from '../../src/config/vfs-options.js';
import { DEFAULT_TRANSFERS, resolveMountOptions } from '../../src/config/mount-options.js';
import { VFS_OPTIONS } from '../../src/config/vfs-option-table.js';

const MiB = 1024 * 1024;

test("mount flags resolve from the table with rclone's defaults", () => {
  const m = resolveMountOptions({}, { HOME: '/home/u' });
  const o = m.vfs;
  assert.equal(o.dirCacheTimeMs, 300_000);
  assert.equal(m.kernel.attrTimeoutMs, 1000);
  assert.equal(o.readChunkSize, 128 * MiB);
  assert.equal(o.readChunkSizeLimit, -1);
  assert.equal(o.bufferSize, 16 * MiB);
  assert.equal(o.dirPerms, 0o777);
  assert.equal(o.filePerms, 0o666);
  assert.equal(o.cacheDir, '/home/u/.cache/bucketfs');
  const p = resolveVfsOptions({ dir_cache_time: '2s', umask: '027', file_perms: '0640', read_only: true, vfs_read_chunk_size_limit: '1G' });
  assert.equal(p.dirCacheTimeMs, 2000);
  assert.equal(p.umask, 0o027);
  assert.equal(p.filePerms, 0o640);
  assert.equal(p.readOnly, true);
  assert.equal(p.readChunkSizeLimit, 1024 * MiB);
  assert.throws(() => resolveVfsOptions({ dir_perms: '999' }), /--dir-perms/);
  assert.throws(() => resolveVfsOptions({ buffer_size: 'lots' }), /--buffer-size/);
  for (const spec of VFS_OPTIONS) assert.equal(spec.scope, 'global');
});

test('mount flags also come from RCLONE_<FLAG> environment variables, as in rclone; a flag wins', () => {
  const env = { HOME: '/home/u', RCLONE_DIR_CACHE_TIME: '7s', RCLONE_READ_ONLY: 'true', RCLONE_VFS_CACHE_MODE: 'full' };
  const o = resolveVfsOptions({}, env);
  assert.equal(o.dirCacheTimeMs, 7000);
  assert.equal(o.readOnly, true);
  assert.equal(o.cacheMode, 'full');
  const f = resolveVfsOptions({ dir_cache_time: '3s', read_only: false }, env);
  assert.equal(f.dirCacheTimeMs, 3000);
  assert.equal(f.readOnly, false);
  assert.throws(() => resolveVfsOptions({}, { HOME: '/h', RCLONE_BUFFER_SIZE: 'lots' }), /--buffer-size/);
});

test('kernel, daemon and stats flags come from RCLONE_<FLAG> too (they were read from the raw flags only)', () => {
  const env = {
    HOME: '/h',
    RCLONE_ALLOW_OTHER: 'true',
    RCLONE_DEFAULT_PERMISSIONS: 'true',
    RCLONE_MAX_READ_AHEAD: '1M',
    RCLONE_DAEMON_TIMEOUT: '7s',
    RCLONE_DAEMON_WAIT: '3s',
    RCLONE_STATS: '0',
    RCLONE_VOLNAME: 'vol',
    RCLONE_ATTR_TIMEOUT: '2.5s',
    RCLONE_ALLOW_NON_EMPTY: 'true',
    RCLONE_OPTION: 'noatime',
  };
  const m = resolveMountOptions({}, env);
  assert.equal(m.kernel.allowOther, true);
  assert.equal(m.kernel.defaultPermissions, true);
  assert.equal(m.kernel.maxReadAhead, MiB);
  assert.equal(m.kernel.volname, 'vol');
  assert.equal(m.kernel.attrTimeoutMs, 2500);
  assert.equal(m.kernel.allowNonEmpty, true);
  assert.deepEqual(m.kernel.extra, ['noatime']);
  assert.equal(m.requestTimeoutMs, 7000);
  assert.equal(m.daemonWaitMs, 3000);
  assert.equal(m.statsMs, 0);
  // the flag wins
  const f = resolveMountOptions({ allow_other: false, max_read_ahead: '256K', daemon_timeout: '1s', option: ['ro'] }, env);
  assert.equal(f.kernel.allowOther, false);
  assert.equal(f.kernel.maxReadAhead, 256 * 1024);
  assert.equal(f.requestTimeoutMs, 1000);
  assert.deepEqual(f.kernel.extra, ['ro']);
});

test('mount option defaults: rclone\'s, and "off" durations never reach a timer as a huge delay', () => {
  const m = resolveMountOptions({}, { HOME: '/h' });
  assert.equal(m.kernel.maxReadAhead, 128 * 1024);
  assert.equal(m.kernel.allowOther, false);
  assert.equal(m.kernel.volname, '');
  assert.deepEqual(m.kernel.extra, []);
  assert.equal(m.requestTimeoutMs, 0);
  assert.equal(m.daemonWaitMs, 60_000);
  assert.equal(m.statsMs, 60_000);
  assert.equal(m.daemon, false);
  assert.equal(m.transfers, DEFAULT_TRANSFERS);
  assert.equal(resolveMountOptions({}, { HOME: '/h' }, { transfers: 9 }).transfers, 9);
  const off = resolveMountOptions({ daemon_timeout: 'off', stats: 'off', daemon_wait: 'off' }, { HOME: '/h' });
  assert.equal(off.requestTimeoutMs, 0);
  assert.equal(off.statsMs, 0);
  assert.equal(off.daemonWaitMs, 2 ** 31 - 1);
});

test('a bad value names the flag, and the variable when it came from there', () => {
  assert.throws(
    () => resolveMountOptions({}, { HOME: '/h', RCLONE_MAX_READ_AHEAD: 'lots' }),
    /^UserError: --max-read-ahead \(from RCLONE_MAX_READ_AHEAD\): invalid size "lots"/,
  );
  assert.throws(
    () => resolveMountOptions({ daemon_timeout: 'soon' }, { HOME: '/h' }),
    (e: Error & { exitCode?: number }) => /^--daemon-timeout: invalid duration/.test(e.message) && e.exitCode === 1,
  );
  assert.throws(() => resolveMountOptions({}, { HOME: '/h', RCLONE_ALLOW_OTHER: 'maybe' }), /--allow-other \(from RCLONE_ALLOW_OTHER\)/);
});

test('--default-permissions: off by default, on by default with --allow-other, and what is given (flag or environment) wins', () => {
  assert.equal(resolveMountOptions({}, {}).kernel.defaultPermissions, false);
  assert.equal(resolveMountOptions({ allow_other: true }, {}).kernel.defaultPermissions, true);
  assert.equal(resolveMountOptions({ allow_other: true, default_permissions: false }, {}).kernel.defaultPermissions, false);
  assert.equal(resolveMountOptions({ allow_other: true }, { RCLONE_DEFAULT_PERMISSIONS: 'false' }).kernel.defaultPermissions, false);
  assert.equal(resolveMountOptions({ default_permissions: true }, {}).kernel.defaultPermissions, true);
});
