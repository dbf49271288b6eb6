// Real kernel mounts for tests: `bucketfs mount` runs as a child process (FUSE requests are
// served on its event loop, so the test process must never be the one serving them), and the
// test uses the mount point with async fs calls and child tools only.
//
// Every mount started here is stopped and unmounted, also when a test fails: cleanupMounts()
// (call it from an after() hook) and a process 'exit' handler both `fusermount -uz` and SIGKILL
// whatever is still there, so no FUSE mount is ever left behind.
import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { TestS3 } from './s3-server.js';
import { bucketfsBin, type RunResult, run } from './run.js';

/**
 * node:test options for every test of a mount test file: a FUSE deadlock (a request the mount
 * never answers, a process stuck in the kernel) fails that test after this long instead of
 * hanging the whole run; the file's after() hook then kills the mount, which frees the rest.
 * Well above what the slowest mount test takes on a loaded machine (about a minute).
 */
export const MOUNT_TEST = { timeout: 240_000 } as const;
/** the same for before()/after() hooks that start servers and mounts */
export const MOUNT_HOOK = { timeout: 120_000 } as const;

export interface Mounted {
  mnt: string;
  proc: ChildProcess;
  /** everything the mount printed so far */
  stdout(): string;
  stderr(): string;
  /** SIGTERM, wait for exit; resolves with the exit code/signal (and checks the mount is gone) */
  unmount(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** the exit of the mount process (for tests that stop it another way) */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface MountOptions {
  flags?: string[];
  /** extra environment (over s3.env('moto')) */
  env?: Record<string, string>;
  /** use this (existing) directory instead of a fresh temporary one */
  mnt?: string;
  timeoutMs?: number;
}

const live = new Map<string, ChildProcess>();
const tempDirs = new Set<string>();

function isMounted(mnt: string): boolean {
  try {
    return readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .some((l) => l.split(' ')[4]?.replace(/\\040/g, ' ') === mnt);
  } catch {
    return false;
  }
}

function forceCleanup(): void {
  for (const [mnt, proc] of live) {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    if (isMounted(mnt)) spawnSync('fusermount3', ['-uz', mnt], { stdio: 'ignore' });
  }
  live.clear();
  for (const d of tempDirs) {
    // only ever remove a directory that is not (any more) a mount point
    if (!isMounted(d)) rmSync(d, { recursive: true, force: true });
  }
  tempDirs.clear();
}
process.on('exit', forceCleanup);

/** A fresh empty directory under the system temp dir, removed by cleanupMounts(). */
export async function tempDir(prefix = 'bucketfs-test-'): Promise<string> {
  const d = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
  tempDirs.add(d);
  return d;
}

/** The environment a mount child gets: the env-only `moto:` remote, no config file. */
export function mountEnv(s3: TestS3, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return s3.env('moto', { RCLONE_CONFIG: '/dev/null', ...extra });
}

export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Start `bucketfs mount remote MNT flags…` and wait until the kernel mount is there. */
export async function mount(s3: TestS3, remote: string, opts: MountOptions = {}): Promise<Mounted> {
  const mnt = opts.mnt ?? (await tempDir('bucketfs-mnt-'));
  const cacheDir = await tempDir('bucketfs-cache-');
  const args = [bucketfsBin, 'mount', remote, mnt, '--cache-dir', cacheDir, ...(opts.flags ?? [])];
  const proc = spawn(process.execPath, args, { env: mountEnv(s3, opts.env), stdio: ['ignore', 'pipe', 'pipe'] });
  live.set(mnt, proc);
  let out = '';
  let err = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    proc.once('exit', (code, signal) => resolve({ code, signal }));
  });
  let gone = false;
  void exited.then(() => (gone = true));
  try {
    await waitFor(() => gone || (isMounted(mnt) && out.includes('mounted')), opts.timeoutMs ?? 30_000, `mount of ${remote} on ${mnt}`);
  } catch (e) {
    forceCleanupOne(mnt, proc);
    throw new Error(`${(e as Error).message}; stderr: ${err}`);
  }
  if (gone) {
    live.delete(mnt);
    throw new Error(`bucketfs mount exited before mounting: ${err || out}`);
  }
  return {
    mnt,
    proc,
    stdout: () => out,
    stderr: () => err,
    exited,
    async unmount() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      const timer = setTimeout(() => forceCleanupOne(mnt, proc), 60_000);
      const r = await exited;
      clearTimeout(timer);
      if (isMounted(mnt)) {
        forceCleanupOne(mnt, proc);
        throw new Error(`mount process exited (${r.code ?? r.signal}) but ${mnt} was still mounted; stderr: ${err}`);
      }
      live.delete(mnt);
      return r;
    },
  };
}

function forceCleanupOne(mnt: string, proc: ChildProcess): void {
  if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  if (isMounted(mnt)) spawnSync('fusermount3', ['-uz', mnt], { stdio: 'ignore' });
  live.delete(mnt);
}

/**
 * Run `fn` on mount `m`, then unmount it, also when `fn` fails. When `fn` succeeded the mount
 * must exit 0 (its stderr is the message); when `fn` failed its error is the one reported: an
 * unmount failure then never hides it (what an assertion in a `finally` block would do).
 */
export async function usingMount<T>(m: Mounted, fn: () => Promise<T>): Promise<T> {
  let result: T;
  try {
    result = await fn();
  } catch (err) {
    await m.unmount().catch(() => undefined);
    throw err;
  }
  const r = await m.unmount();
  assert.equal(r.code, 0, `the mount exited with ${r.code ?? r.signal}: ${m.stderr()}`);
  return result;
}

/**
 * SIGHUP the mount (it forgets every cached listing) and wait until it says it did, so that what
 * follows is not a race against the signal.
 */
export async function sighup(m: Mounted): Promise<void> {
  const LINE = 'directory cache cleared (SIGHUP)';
  const count = () => m.stderr().split(LINE).length - 1;
  const before = count();
  m.proc.kill('SIGHUP');
  await waitFor(() => count() > before, 10_000, `"${LINE}" from the mount`);
}

/** Run a mount that is expected to fail (to completion, with a time limit). */
export async function mountFails(s3: TestS3, remote: string, mnt: string, flags: string[] = [], env: Record<string, string> = {}): Promise<RunResult> {
  const r = await run(process.execPath, [bucketfsBin, 'mount', remote, mnt, ...flags], { env: mountEnv(s3, env), timeoutMs: 30_000 });
  if (isMounted(mnt)) spawnSync('fusermount3', ['-uz', mnt], { stdio: 'ignore' });
  return r;
}

/** For after(): stop every mount still running and remove the temporary directories. */
export async function cleanupMounts(): Promise<void> {
  forceCleanup();
}

export { isMounted };

/** What useS3Bucket() returns: the server (once before() has run) and the bucket's objects. */
export interface S3Bucket {
  readonly name: string;
  /** the running server; only valid inside hooks and tests */
  readonly s3: TestS3;
  getObject(key: string): Promise<Buffer | null>;
  headObject(key: string): ReturnType<TestS3['headObject']>;
  putObject(key: string, body: Buffer | string): Promise<void>;
  listKeys(prefix: string): Promise<string[]>;
}

export interface S3BucketHooks {
  /** runs in before(), after the bucket is created (seed objects, mount) */
  setup?: (s3: TestS3) => Promise<void>;
  /** runs first in after(), before the mounts are cleaned up and the server stops */
  teardown?: () => Promise<void>;
}

/**
 * For a test file's top level: registers a before() that starts a TestS3 and creates `name`
 * (then runs hooks.setup), and an after() that runs hooks.teardown, cleans up every mount and
 * stops the server. Returns an accessor for the server and the bucket's objects.
 */
export function useS3Bucket(name: string, hooks: S3BucketHooks = {}): S3Bucket {
  let server: TestS3 | undefined;
  before(async () => {
    server = await TestS3.start();
    await server.createBucket(name);
    await hooks.setup?.(server);
  }, MOUNT_HOOK);
  after(async () => {
    await hooks.teardown?.();
    await cleanupMounts();
    await server?.stop();
  }, MOUNT_HOOK);
  const s3 = (): TestS3 => {
    if (!server) throw new Error('useS3Bucket: the server is only there once before() has run');
    return server;
  };
  return {
    name,
    get s3() {
      return s3();
    },
    getObject: (key) => s3().getObject(name, key),
    headObject: (key) => s3().headObject(name, key),
    putObject: (key, body) => s3().putObject(name, key, body),
    listKeys: (prefix) => s3().listKeys(name, prefix),
  };
}

/** pids of the processes (not this one) whose argv matches */
async function pidsWhere(match: (argv: string[]) => boolean): Promise<number[]> {
  const out: number[] = [];
  for (const d of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    const argv = (await fs.readFile(`/proc/${d}/cmdline`, 'utf8').catch(() => '')).split('\0');
    if (match(argv)) out.push(Number(d));
  }
  return out;
}

/** pids of bucketfs processes whose command line contains `arg` (not the fusermount3 that
 *  watches a mount: with auto_unmount its options say subtype=bucketfs) */
export function pidsWith(arg: string): Promise<number[]> {
  return pidsWhere((argv) => !/fusermount/.test(argv[0] ?? '') && argv.includes(arg) && argv.some((a) => a.includes('bucketfs')));
}

/** pids of the fusermount3 that watches the mount at `mnt` (auto_unmount) */
export function watcherPids(mnt: string): Promise<number[]> {
  return pidsWhere((argv) => /fusermount3$/.test(argv[0] ?? '') && argv.includes(mnt));
}

/** Write `data` out of order: it goes through a cache file and waits for --vfs-write-back to upload. */
export async function writePending(file: string, data: Buffer): Promise<void> {
  const fh = await fs.open(file, 'w');
  try {
    await fh.write(data, 1000, data.length - 1000, 1000);
    await fh.write(data, 0, 1000, 0);
  } finally {
    await fh.close();
  }
}
