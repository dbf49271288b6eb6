// Mount flags that reach the kernel, each proved by what the kernel then does (or shows in
// /proc/self/mountinfo and /sys/class/bdi): --volname, --allow-non-empty, --attr-timeout,
// --max-read-ahead, --uid/--gid/--umask/--file-perms/--dir-perms, --allow-other and
// --default-permissions (also from RCLONE_ALLOW_OTHER), --daemon-timeout.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { run } from '../helpers/run.js';
import { mount, tempDir, useS3Bucket, type Mounted } from '../helpers/mount.js';

const BUCKET = 'flags-kernel-bucket';
/** a FUSE deadlock fails the test instead of hanging the run */
const TEST_TIMEOUT_MS = 180_000;
const bucket = useS3Bucket(BUCKET, {
  async setup(s3) {
    await s3.putObject(BUCKET, 'dir/file.txt', 'hello');
    await s3.putObject(BUCKET, 'secret.txt', 'top secret');
    await s3.putObject(BUCKET, 'slow.bin', Buffer.alloc(1024 * 1024, 's'));
  },
});

/** The mount's line of /proc/self/mountinfo: device (fsname), every option, and its device number. */
function mountEntry(mnt: string): { device: string; options: string[]; devno: string } {
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const f = line.split(' ');
    if (f[4]?.replace(/\\040/g, ' ') !== mnt) continue;
    const sep = f.indexOf('-');
    return { device: f[sep + 2]!, options: [...f[5]!.split(','), ...f[sep + 3]!.split(',')], devno: f[2]! };
  }
  throw new Error(`${mnt} is not in mountinfo`);
}

async function stopped(m: Mounted): Promise<void> {
  const r = await m.unmount();
  assert.equal(r.code, 0, m.stderr());
}

test('--volname is the device shown in /proc/mounts; without it, the remote', { timeout: TEST_TIMEOUT_MS }, async () => {
  const named = await mount(bucket.s3, `moto:${BUCKET}`, { flags: ['--volname', 'my-volume'] });
  let device: string;
  try {
    device = mountEntry(named.mnt).device;
  } finally {
    await named.unmount();
  }
  assert.equal(device, 'my-volume');
  const plain = await mount(bucket.s3, `moto:${BUCKET}`);
  try {
    device = mountEntry(plain.mnt).device;
  } finally {
    await plain.unmount();
  }
  assert.equal(device, `moto:${BUCKET}`);
});

test('--allow-non-empty mounts over a non-empty directory, hiding its contents until the unmount', { timeout: TEST_TIMEOUT_MS }, async () => {
  const dir = await tempDir('bucketfs-mnt-');
  await fs.writeFile(path.join(dir, 'underneath.txt'), 'x');
  const m = await mount(bucket.s3, `moto:${BUCKET}`, { mnt: dir, flags: ['--allow-non-empty'] });
  let listing: string[];
  try {
    listing = (await fs.readdir(dir)).sort();
  } finally {
    await stopped(m);
  }
  assert.deepEqual(listing, ['dir', 'secret.txt', 'slow.bin']);
  assert.deepEqual(await fs.readdir(dir), ['underneath.txt'], "the directory's own file is back after the unmount");
});

test('--attr-timeout: the kernel keeps attributes that long; 0 asks bucketfs every time', { timeout: TEST_TIMEOUT_MS }, async () => {
  await bucket.putObject('attr.txt', 'v1');
  // --dir-cache-time 0: bucketfs itself caches nothing, so only the kernel's cache can hide a change
  const cached = await mount(bucket.s3, `moto:${BUCKET}`, { flags: ['--dir-cache-time', '0s', '--attr-timeout', '60s'] });
  let sizes: number[];
  try {
    const p = path.join(cached.mnt, 'attr.txt');
    const first = (await fs.stat(p)).size;
    await bucket.putObject('attr.txt', 'version 2');
    sizes = [first, (await fs.stat(p)).size];
  } finally {
    await stopped(cached);
  }
  assert.deepEqual(sizes, [2, 2], 'the kernel answered the second stat from its cache');

  await bucket.putObject('attr.txt', 'v1');
  const fresh = await mount(bucket.s3, `moto:${BUCKET}`, { flags: ['--dir-cache-time', '0s', '--attr-timeout', '0s'] });
  try {
    const p = path.join(fresh.mnt, 'attr.txt');
    const first = (await fs.stat(p)).size;
    await bucket.putObject('attr.txt', 'version 2');
    sizes = [first, (await fs.stat(p)).size];
  } finally {
    await stopped(fresh);
  }
  assert.deepEqual(sizes, [2, 9], 'with --attr-timeout 0 the second stat saw the new object');
});

/** The kernel's read-ahead for the mount, in KiB (its backing device info). */
async function readAheadKb(mnt: string): Promise<number> {
  return Number((await fs.readFile(`/sys/class/bdi/${mountEntry(mnt).devno}/read_ahead_kb`, 'utf8')).trim());
}

test("--max-read-ahead sets the kernel's read-ahead for the mount", { timeout: TEST_TIMEOUT_MS }, async () => {
  const small = await mount(bucket.s3, `moto:${BUCKET}`, { flags: ['--max-read-ahead', '32K'] });
  const kb: number[] = [];
  try {
    kb.push(await readAheadKb(small.mnt));
  } finally {
    await stopped(small);
  }
  const dflt = await mount(bucket.s3, `moto:${BUCKET}`);
  try {
    kb.push(await readAheadKb(dflt.mnt));
  } finally {
    await stopped(dflt);
  }
  assert.deepEqual(kb, [32, 128]);
});

test('--uid, --gid, --umask, --file-perms, --dir-perms set what stat shows', { timeout: TEST_TIMEOUT_MS }, async () => {
  const m = await mount(bucket.s3, `moto:${BUCKET}`, {
    flags: ['--uid', '1234', '--gid', '4321', '--umask', '0002', '--file-perms', '0640', '--dir-perms', '0751'],
  });
  let file: import('node:fs').Stats, dir: import('node:fs').Stats, root: import('node:fs').Stats;
  try {
    file = await fs.stat(path.join(m.mnt, 'dir/file.txt'));
    dir = await fs.stat(path.join(m.mnt, 'dir'));
    root = await fs.stat(m.mnt);
  } finally {
    await stopped(m);
  }
  assert.equal(file.uid, 1234);
  assert.equal(file.gid, 4321);
  assert.equal(file.mode & 0o7777, 0o640);
  assert.equal(dir.mode & 0o7777, 0o751);
  assert.equal(dir.uid, 1234);
  assert.equal(root.mode & 0o7777, 0o751);
  // the umask applies over the permission flags
  const masked = await mount(bucket.s3, `moto:${BUCKET}`, { flags: ['--umask', '0077'] });
  try {
    file = await fs.stat(path.join(masked.mnt, 'dir/file.txt'));
  } finally {
    await stopped(masked);
  }
  assert.equal(file.mode & 0o7777, 0o600);
});

/** As user nobody, from inside the mount: stat '.', read secret.txt. */
async function asNobody(mnt: string): Promise<string> {
  const code = [
    'import os, sys',
    'os.chdir(sys.argv[1])',
    'os.setgroups([]); os.setgid(65534); os.setuid(65534)',
    'try:\n    os.stat("."); print("stat ok")\nexcept OSError as e:\n    print("stat", e.errno)',
    'try:\n    open("secret.txt").read(); print("read ok")\nexcept OSError as e:\n    print("read", e.errno)',
  ].join('\n');
  const r = await run('python3', ['-c', code, mnt], { timeoutMs: 30_000 });
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim().split('\n').join(', ');
}

test(
  '--allow-other (here from RCLONE_ALLOW_OTHER) lets other users in; the kernel checks the mode (default_permissions, on by default with it; --default-permissions=false turns it off)',
  { timeout: TEST_TIMEOUT_MS },
  async () => {
    // a mount with these options, what user nobody gets from inside it, then unmounted
    const tryAs = async (opts: { flags?: string[]; env?: Record<string, string> }) => {
      const mounted = await mount(bucket.s3, `moto:${BUCKET}`, opts);
      try {
        return { options: mountEntry(mounted.mnt).options, other: await asNobody(mounted.mnt) };
      } finally {
        await stopped(mounted);
      }
    };
    const perms = ['--file-perms', '0600', '--uid', '1234'];
    let r = await tryAs({ env: { RCLONE_ALLOW_OTHER: 'true' }, flags: ['--default-permissions', ...perms] });
    assert.ok(r.options.includes('allow_other'), r.options.join(','));
    assert.ok(r.options.includes('default_permissions'), r.options.join(','));
    assert.equal(r.other, 'stat ok, read 13', 'nobody may look, but the kernel refuses a 0600 file of uid 1234');

    // bucketfs turns default_permissions on with allow_other unless told not to
    r = await tryAs({ flags: ['--allow-other', ...perms] });
    assert.ok(r.options.includes('default_permissions'), r.options.join(','));
    assert.equal(r.other, 'stat ok, read 13', 'with --allow-other the mode is enforced by default');

    r = await tryAs({ flags: ['--allow-other', '--default-permissions=false', ...perms] });
    assert.equal(r.other, 'stat ok, read ok', 'with --default-permissions=false the mode is not enforced');

    r = await tryAs({});
    assert.ok(!r.options.includes('allow_other') && !r.options.includes('default_permissions'), r.options.join(','));
    assert.equal(r.other, 'stat 13, read 13', 'without --allow-other only the mounting user gets in');
  },
);

test('--daemon-timeout: a kernel request bucketfs cannot answer in time fails with ETIMEDOUT instead of hanging', { timeout: TEST_TIMEOUT_MS }, async () => {
  const m = await mount(bucket.s3, `moto:${BUCKET}`, { flags: ['--daemon-timeout', '2s'] });
  let result: { out: string; ms: number };
  try {
    await fs.stat(path.join(m.mnt, 'slow.bin'));
    // the server stops answering reads of this object
    bucket.s3.faultHook = (r) => (r.type === 'GET' && r.path === `/${BUCKET}/slow.bin` ? 'hang' : undefined);
    const code =
      // (at 512 KiB: the lookup's GET of the first 64 KiB, in a directory not listed, holds the start)
      'import os, sys\nfd = os.open(sys.argv[1], os.O_RDONLY)\ntry:\n    os.pread(fd, 4096, 524288); print("read")\nexcept OSError as e:\n    print("errno", e.errno)';
    const t0 = Date.now();
    const r = await run('python3', ['-c', code, path.join(m.mnt, 'slow.bin')], { timeoutMs: 60_000 });
    result = { out: r.stdout.trim(), ms: Date.now() - t0 };
  } finally {
    bucket.s3.faultHook = undefined;
    bucket.s3.releaseHung();
    await m.unmount();
  }
  assert.ok(
    bucket.s3.requests.some((r) => r.injected === 'hang'),
    'the read reached the hanging server',
  );
  assert.equal(result.out, 'errno 110', 'ETIMEDOUT');
  assert.ok(result.ms >= 1500 && result.ms < 15_000, `failed after ${result.ms} ms, expected about 2 s`);
});
