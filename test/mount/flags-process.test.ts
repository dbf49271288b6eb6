// The mount process and its environment: mount flags from RCLONE_<FLAG> variables (shown in the
// start-up log as in effect), Ctrl-C (SIGINT) ending the mount cleanly with pending writes
// uploaded, --daemon (here from RCLONE_DAEMON) and --daemon-wait.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { run, bucketfsBin } from '../helpers/run.js';
import { TEST_SECRET_KEY } from '../helpers/s3-server.js';
import { isMounted, mount, mountEnv, pidsWith, tempDir, useS3Bucket, waitFor, type Mounted } from '../helpers/mount.js';

const BUCKET = 'flags-process-bucket';
/** a FUSE deadlock fails the test instead of hanging the run */
const TEST_TIMEOUT_MS = 180_000;
const bucket = useS3Bucket(BUCKET, {
  async setup(s3) {
    await s3.putObject(BUCKET, 'existing.txt', 'existing');
  },
});

async function stopped(m: Mounted): Promise<void> {
  const r = await m.unmount();
  assert.equal(r.code, 0, m.stderr());
}

/** Rewrite byte 1 of an existing file in place: the errno code it fails with, or 'ok'. */
async function rewriteInPlace(file: string): Promise<string> {
  let fh: fs.FileHandle | undefined;
  try {
    fh = await fs.open(file, 'r+');
    await fh.write(Buffer.from('X'), 0, 1, 1);
    await fh.close();
    fh = undefined;
    return 'ok';
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? String(err);
  } finally {
    await fh?.close().catch(() => undefined);
  }
}

test('mount flags from RCLONE_<FLAG> variables take effect and the start-up log shows them', { timeout: TEST_TIMEOUT_MS }, async () => {
  const m = await mount(bucket.s3, `moto:${BUCKET}`, {
    env: { RCLONE_VFS_CACHE_MODE: 'off', RCLONE_DIR_CACHE_TIME: '7s', RCLONE_VFS_WRITE_BACK: '2s' },
    flags: ['-v'],
  });
  let outcome: string;
  try {
    outcome = await rewriteInPlace(path.join(m.mnt, 'existing.txt'));
  } finally {
    await stopped(m);
  }
  assert.match(m.stderr(), /mount options: dir-cache-time 7s, .*cache mode off, write-back 2s,/);
  assert.equal(outcome, 'EPERM', '--vfs-cache-mode off: no rewrite in place');
  // a flag wins over its variable
  const f = await mount(bucket.s3, `moto:${BUCKET}`, {
    env: { RCLONE_VFS_CACHE_MODE: 'off', RCLONE_DIR_CACHE_TIME: '7s' },
    flags: ['-v', '--vfs-cache-mode', 'writes', '--dir-cache-time', '1m30s'],
  });
  try {
    outcome = await rewriteInPlace(path.join(f.mnt, 'existing.txt'));
  } finally {
    await stopped(f);
  }
  assert.match(f.stderr(), /mount options: dir-cache-time 1m30s, .*cache mode writes,/);
  assert.equal(outcome, 'ok');
});

test('Ctrl-C (SIGINT): pending writes are uploaded, the mount is gone, exit 0', { timeout: TEST_TIMEOUT_MS }, async () => {
  const m = await mount(bucket.s3, `moto:${BUCKET}`, { flags: ['--vfs-write-back', '10m'] });
  const data = Buffer.alloc(300_000, 'i');
  let result: { code: number | null; signal: NodeJS.Signals | null };
  try {
    // written out of order (a cache file), so its upload waits for the write-back delay
    const fh = await fs.open(path.join(m.mnt, 'pending.bin'), 'w');
    await fh.write(data, 1000, data.length - 1000, 1000);
    await fh.write(data, 0, 1000, 0);
    await fh.close();
    assert.equal(await bucket.getObject('pending.bin'), null, 'not uploaded before the signal');
    m.proc.kill('SIGINT');
    result = await m.exited;
  } finally {
    await m.unmount();
  }
  assert.deepEqual(result, { code: 0, signal: null }, m.stderr());
  assert.ok(!isMounted(m.mnt));
  assert.match(m.stderr(), /interrupted: uploading pending files/);
  assert.ok((await bucket.getObject('pending.bin'))?.equals(data), 'the pending file was uploaded before exit');
});

async function killAll(mnt: string): Promise<void> {
  for (const pid of await pidsWith(mnt)) process.kill(pid, 'SIGKILL');
  if (isMounted(mnt)) await run('fusermount3', ['-uz', mnt]);
}

test('RCLONE_DAEMON=true runs the mount in the background, as --daemon', { timeout: TEST_TIMEOUT_MS }, async () => {
  const mnt = await tempDir('bucketfs-mnt-');
  const cache = await tempDir('bucketfs-cache-');
  let r: Awaited<ReturnType<typeof run>>;
  let mounted: boolean;
  let pids: number[];
  try {
    r = await run(process.execPath, [bucketfsBin, 'mount', `moto:${BUCKET}`, mnt, '--cache-dir', cache], {
      env: mountEnv(bucket.s3, { RCLONE_DAEMON: 'true' }),
      timeoutMs: 30_000,
    });
    mounted = isMounted(mnt);
    pids = await pidsWith(mnt);
    if (mounted) await run('fusermount3', ['-u', mnt]);
    await waitFor(async () => (await pidsWith(mnt)).length === 0, 20_000, 'the background mount to exit');
  } finally {
    await killAll(mnt);
  }
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /mounted moto:flags-process-bucket on/);
  assert.ok(mounted, 'mounted when the command returned');
  assert.equal(pids.length, 1, 'one background mount process');
});

test(
  '--daemon-wait: --daemon gives up after that long when the mount does not become ready, leaving nothing behind',
  { timeout: TEST_TIMEOUT_MS },
  async () => {
    const mnt = await tempDir('bucketfs-mnt-');
    // the server never answers the listing that checks the bucket before mounting
    bucket.s3.faultHook = (req) => (req.type === 'LIST' ? 'hang' : undefined);
    let r: Awaited<ReturnType<typeof run>>;
    let ms: number;
    try {
      const t0 = Date.now();
      r = await run(process.execPath, [bucketfsBin, 'mount', `moto:${BUCKET}`, mnt, '--daemon', '--daemon-wait', '2s'], {
        env: mountEnv(bucket.s3),
        timeoutMs: 60_000,
      });
      ms = Date.now() - t0;
      await waitFor(async () => (await pidsWith(mnt)).length === 0, 10_000, 'the background process to be ended');
    } finally {
      bucket.s3.faultHook = undefined;
      bucket.s3.releaseHung();
      await killAll(mnt);
    }
    assert.notEqual(r.code, 0);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /the mount did not become ready within 2s/);
    assert.ok(ms >= 1500 && ms < 15_000, `gave up after ${ms} ms`);
    assert.ok(!isMounted(mnt));
  },
);

/** the command lines of bucketfs processes (not fusermount) that name `mnt` (its title may be one string) */
async function commandLinesWith(mnt: string): Promise<string[]> {
  const out: string[] = [];
  for (const pid of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const c = await fs.readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (c.includes(mnt) && c.includes('bucketfs') && !c.startsWith('fusermount')) out.push(c);
  }
  return out;
}

test(
  'a secret given on the command line is not readable in ps: the --daemon mount gets it through its environment, and shows *** (the foreground one too)',
  { timeout: TEST_TIMEOUT_MS },
  async () => {
    const mnt = await tempDir('bucketfs-mnt-');
    const cache = await tempDir('bucketfs-cache-');
    const secretArgs = ['--s3-secret-access-key', TEST_SECRET_KEY];
    let r: Awaited<ReturnType<typeof run>>;
    let cmdlines: string[] = [];
    try {
      r = await run(process.execPath, [bucketfsBin, 'mount', `moto:${BUCKET}`, mnt, '--cache-dir', cache, '--daemon', ...secretArgs], {
        env: mountEnv(bucket.s3),
        timeoutMs: 30_000,
      });
      assert.equal(r.code, 0, r.stderr);
      assert.ok(isMounted(mnt));
      cmdlines = await commandLinesWith(mnt);
      await run('fusermount3', ['-u', mnt]);
      await waitFor(async () => (await commandLinesWith(mnt)).length === 0, 20_000, 'the background mount to exit');
    } finally {
      await killAll(mnt);
    }
    assert.equal(cmdlines.length, 1, 'the background mount process');
    for (const c of cmdlines) {
      assert.ok(!c.includes(TEST_SECRET_KEY), `the secret in ${c}`);
      assert.match(c.replace(/\0/g, ' '), /--s3-secret-access-key \*\*\*/);
    }
    // in the foreground: the mount's own command line is rewritten at start
    const m = await mount(bucket.s3, `moto:${BUCKET}`, { flags: secretArgs });
    try {
      const c = await fs.readFile(`/proc/${m.proc.pid}/cmdline`, 'utf8');
      assert.ok(!c.includes(TEST_SECRET_KEY), `the secret in ${c}`);
      assert.match(c, /--s3-secret-access-key \*\*\*/);
    } finally {
      await m.unmount();
    }
  },
);

test(
  '--cache-dir that is no directory (or not writable) is refused before anything is done: one line naming the flag, no request, nothing mounted',
  { timeout: TEST_TIMEOUT_MS },
  async () => {
    const mnt = await tempDir('bucketfs-mnt-');
    const file = path.join(await tempDir(), 'a-file');
    await fs.writeFile(file, 'x');
    bucket.s3.clearRequests();
    const r = await run(process.execPath, [bucketfsBin, 'mount', `moto:${BUCKET}`, mnt, '--cache-dir', file], { env: mountEnv(bucket.s3), timeoutMs: 30_000 });
    assert.notEqual(r.code, 0);
    assert.equal(r.stderr.trim(), `bucketfs: --cache-dir ${file}: not a directory`);
    assert.equal(bucket.s3.requests.length, 0, 'no request was sent');
    assert.ok(!isMounted(mnt));
  },
);
