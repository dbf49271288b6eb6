// cleanup, tree, --fast-list, --retries, --bwlimit, --backup-dir and listremotes through the real
// CLI against moto, with the installed rclone (1.60) as the oracle: the same command on the same
// (or an identically prepared) bucket, the output compared byte for byte, log lines with times,
// durations and bucket names made neutral, the exit codes equal.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
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
