// cleanup, tree, --fast-list, --retries, --bwlimit, --backup-dir and listremotes through the real
// CLI against moto, with the installed rclone (1.60) as the oracle: the same command on the same
// (or an identically prepared) bucket, the output compared byte for byte, log lines with times,
// durations and bucket names made neutral, the exit codes equal.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { CreateMultipartUploadCommand, ListMultipartUploadsCommand, type S3Client } from '@aws-sdk/client-s3';
import { run, type RunResult } from '../helpers/run.js';
import { startCli, cli, ok, fails, writes, TEST_SECRET_KEY, type CliEnv } from './cli-support.js';

let c: CliEnv;
/** the bucket rclone works on, and bucketfs's, prepared alike */
const R = 'extra-rclone';
const BF = 'extra-bucketfs';

before(async () => {
  const v = await run('rclone', ['version']).catch((err: Error) => ({ code: -1, stdout: '', stderr: err.message }) as RunResult);
  assert.equal(v.code, 0, `rclone is needed for this test (Debian package rclone; scripts/setup installs it): ${v.stderr}`);
  c = await startCli();
  await c.s3.createBucket(R);
  await c.s3.createBucket(BF);
});
after(async () => {
  await c?.s3.stop();
  if (c) rmSync(c.dir, { recursive: true, force: true });
});

/** rclone on the same server; `retries` 1 unless the test is about --retries */
async function rclone(args: string[], opts: { input?: string; retries?: boolean } = {}): Promise<RunResult> {
  const r = await run('rclone', [...(opts.retries ? [] : ['--retries', '1']), ...args], { env: c.env, input: opts.input });
  assert.ok(!(r.stdout + r.stderr).includes(TEST_SECRET_KEY), `the secret appeared in the output of rclone ${args.join(' ')}`);
  return r;
}

/** Log lines without what differs between runs: times, durations, rates, bucket and directory names. */
function normal(stderr: string, names: string[] = [R, BF]): string[] {
  let s = stderr;
  for (const n of names) s = s.split(n).join('<ROOT>');
  return s
    .split('\n')
    .map((l) => l.replace(/^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d /, ''))
    .map((l) => l.replace(/\(\d+h\d+m[\d.]+s ago\)/g, '(<AGO> ago)'))
    .map((l) => l.replace(/, [^,]*\/s, ETA/, ', <RATE>, ETA'))
    .map((l) => l.replace(/^(bucketfs|rclone): /, '<PROG>: ').replace(/Exit (bucketfs|rclone) now/, 'Exit <PROG> now'))
    .filter((l) => !l.startsWith('Elapsed time:') && l.trim() !== '' && !l.includes('Config file'));
}

function local(...parts: string[]): string {
  return path.join(c.dir, ...parts);
}

/** Write files (rel → content) under dir, each with a fixed mtime (seconds). */
function makeTree(dir: string, files: Record<string, string>, mtime = 1_600_000_000): void {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const [rel, data] of Object.entries(files)) {
    const f = path.join(dir, rel);
    mkdirSync(path.dirname(f), { recursive: true });
    writeFileSync(f, data);
    utimesSync(f, mtime, mtime);
  }
}

/** fn on each item, `limit` at a time (each run is a process start: in parallel, seconds rather than a minute) */
async function inParallel<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

async function withClient<T>(fn: (s3: S3Client) => Promise<T>): Promise<T> {
  const client = c.s3.directClient();
  try {
    return await fn(client);
  } finally {
    client.destroy();
  }
}

async function startUploads(bucket: string, keys: string[]): Promise<void> {
  await withClient(async (s3) => {
    for (const Key of keys) await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key }));
  });
}

async function pendingKeys(bucket: string): Promise<string[]> {
  return withClient(async (s3) => ((await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads ?? []).map((u) => u.Key ?? '').sort());
}

// moto dates every upload 2010-11-10: all are older than cleanup's 24h.
test('cleanup: the pending uploads older than 24h go, under the path only; --dry-run and -i as rclone (the same lines, exit codes)', async () => {
  for (const b of [R, BF]) await startUploads(b, ['up/one', 'up/two', 'other']);
  // -i: rclone asks on stdout, bucketfs on stderr (README): the log lines after the answer are compared
  const logLines = (s: string) => normal(s.replace(/y\/n\/s\/!\/q> /g, '\n')).filter((l) => /^(INFO|NOTICE|ERROR|DEBUG) *:/.test(l) || l.startsWith('Failed'));
  const both = async (args: (b: string) => string[], input?: string) => {
    const r = await rclone(args(R), { input });
    const f = await cli(c, args(BF), { input });
    assert.equal(f.code, r.code, `exit code of ${args(BF).join(' ')}: rclone ${r.stderr}\nbucketfs ${f.stderr}`);
    if (f.code === 0) assert.deepEqual(logLines(f.stderr), logLines(r.stdout + r.stderr), args(BF).join(' '));
    if (!input) assert.equal(f.stdout, r.stdout);
    return f;
  };
  c.s3.clearRequests();
  await both((b) => ['cleanup', '--dry-run', `moto:${b}`]);
  await both((b) => ['cleanup', '-i', `moto:${b}`], 'n\n');
  assert.equal(writes(c.s3), 0, 'neither --dry-run nor "n" changed anything');
  await both((b) => ['cleanup', '-v', `moto:${b}/up`]);
  for (const b of [R, BF]) assert.deepEqual(await pendingKeys(b), ['other'], b);
  await both((b) => ['cleanup', `moto:${b}-missing`]);
  // backend cleanup shares the code: -o max-age=100y keeps the 2010 upload, the default removes it
  await ok(c, ['backend', 'cleanup', '-o', 'max-age=100y', `moto:${BF}`]);
  assert.deepEqual(await pendingKeys(BF), ['other']);
  await ok(c, ['backend', 'cleanup', `moto:${BF}`]);
  assert.deepEqual(await pendingKeys(BF), []);
  await fails(c, ['cleanup', local('x')], { code: 1, match: /needs a remote path/ });
});

test('tree: the same bytes and exit code as rclone tree, flag by flag', async () => {
  const src = local('tree-src');
  makeTree(src, {
    'a/b/f2': 'hello\n',
    'a/f1': 'hi\n',
    'c/big': 'x'.repeat(3893),
    'sp ace': 'q\n',
    top: 'x\n',
    '.dot': '1\n',
    '.hid/g': '1\n',
    'zdir/.h': '1\n',
    'zdir/f': '12345\n',
    'ü/ñ': 'u\n',
  });
  // distinct times for -t and -D
  utimesSync(path.join(src, 'top'), 1_500_000_000, 1_500_000_000);
  utimesSync(path.join(src, 'a/f1'), 1_700_000_000, 1_700_000_000);
  assert.equal((await rclone(['copy', src, `moto:${R}/tree`])).code, 0);
  // flags combined, to keep the number of runs (process starts) small
  const cases = [
    [],
    ['-d'],
    ['-d', '-s', '--level', '2'],
    ['--level', '1', '-D', '-s'],
    ['-s', '-C', '--noreport'],
    ['-Q', '-r', '--noindent'],
    ['-a', '-s', '-p', '-D', '--full-path'],
    ['--dirsfirst'],
    ['-r', '--sort', 'size'],
    ['-U', '-r'],
    ['--include', '*f*', '--max-depth', '2'],
  ];
  const runs = cases.map((flags) => ['tree', ...flags, `moto:${R}/tree`]);
  for (const sub of ['tree/a', 'tree/a/f1', 'tree/missing']) runs.push(['tree', `moto:${R}/${sub}`]);
  runs.push(['tree', '-s', `moto:${R}/tree/a`]);
  await inParallel(runs, 4, async (args) => {
    const [r, f] = await Promise.all([rclone(args), cli(c, args)]);
    assert.equal(f.code, r.code, `exit code of ${args.join(' ')}: ${r.stderr} / ${f.stderr}`);
    assert.equal(f.stdout, r.stdout, args.join(' '));
  });
  // -t: by modification time (X-Amz-Meta-Mtime: a HEAD each), in a directory of files only (rclone
  // gives directories the time it reads its clock: their order under -t is not reproducible)
  for (const flags of [['-t'], ['-t', '-r'], ['-t', '-D', '-s']]) {
    const args = ['tree', ...flags, `moto:${R}/tree/a/b`];
    assert.equal((await cli(c, args)).stdout, (await rclone(args)).stdout, args.join(' '));
  }
  // -o FILE: the same text in the file; `remote:` lists every bucket
  const out = local('tree.txt');
  await ok(c, ['tree', '-o', out, `moto:${R}/tree`]);
  assert.equal(readFileSync(out, 'utf8'), (await rclone(['tree', `moto:${R}/tree`])).stdout);
  assert.equal(await ok(c, ['tree', '--level', '1', 'moto:']), (await rclone(['tree', '--level', '1', 'moto:'])).stdout);
  await fails(c, ['tree', '--sort', 'version', `moto:${R}`], { code: 1, match: /--sort/ });
  const missing = await rclone(['tree', `moto:${R}-missing`]);
  await fails(c, ['tree', `moto:${R}-missing`], { code: missing.code ?? -1 });
});

test('--fast-list: accepted everywhere; bucketfs walks a tree with one recursive LIST with or without it, as rclone only with it', async () => {
  // the tree of the tree test: 7 directories under tree/ (a, a/b, c, .hid, zdir, ü, and tree/ itself)
  const lists = async (fn: () => Promise<unknown>) => {
    await c.s3.settled();
    c.s3.clearRequests();
    await fn();
    return c.s3.counts().LIST ?? 0;
  };
  const loc = `moto:${R}/tree`;
  // rclone 1.60 lists each directory where it walks a tree (sync, copy, move, check) unless
  // --fast-list; ls, lsf -R, lsjson -R, size and tree use one recursive LIST anyway (lsd -R lists
  // each directory even with --fast-list)
  for (const cmd of [['sync', loc, local('fast-rclone')]]) {
    const slow = await lists(() => rclone(cmd));
    assert.ok(slow >= 7, `rclone ${cmd.join(' ')} lists each directory (${slow} LISTs)`);
    assert.equal(await lists(() => rclone(['--fast-list', ...cmd])), 1, `rclone --fast-list ${cmd.join(' ')}`);
  }
  for (const cmd of [['lsf', '-R'], ['tree']]) {
    for (const fast of [[], ['--fast-list']]) {
      const args = [...cmd, ...fast, loc];
      assert.equal(await lists(() => ok(c, args)), 1, `one LIST for bucketfs ${args.join(' ')}`);
    }
  }
  // copy and sync list each side once
  for (const fast of [[], ['--fast-list']]) {
    assert.equal(await lists(() => ok(c, ['sync', ...fast, loc, local('fast-dst')])), 1);
    assert.equal(await lists(() => ok(c, ['copy', ...fast, loc, `moto:${BF}/fast`])), 2);
  }
});
