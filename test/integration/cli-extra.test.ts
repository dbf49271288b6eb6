// cleanup, tree, --fast-list, --retries, --bwlimit and listremotes through the real
// CLI against moto, with the installed rclone (1.60) as the oracle: the same command on the same
// (or an identically prepared) bucket, the output compared byte for byte, log lines with times,
// durations and bucket names made neutral, the exit codes equal.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { CreateMultipartUploadCommand, ListMultipartUploadsCommand, type S3Client } from '@aws-sdk/client-s3';
import { run, type RunResult } from '../helpers/run.js';
import { startCli, cli, ok, fails, writes, type CliEnv, neutralLines, rcloneOn, requireRclone } from './cli-support.js';

let c: CliEnv;
/** the bucket rclone works on, and bucketfs's, prepared alike */
const R = 'extra-rclone';
const BF = 'extra-bucketfs';

before(async () => {
  await requireRclone();
  c = await startCli();
  await c.s3.createBucket(R);
  await c.s3.createBucket(BF);
});
after(async () => {
  await c?.s3.stop();
  if (c) rmSync(c.dir, { recursive: true, force: true });
});

const rclone = (args: string[], opts: { input?: string; retries?: boolean } = {}): Promise<RunResult> => rcloneOn(c, args, opts);
const normal = (stderr: string, names: string[] = [R, BF]): string[] => neutralLines(stderr, names);

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

/** The "Attempt" lines of a run, the error text after "and:" left out (the S3 error's wording differs). */
const attempts = (stderr: string) =>
  normal(stderr)
    .filter((l) => / Attempt \d+\/\d+ | not attempting retries/.test(l))
    .map((l) => l.replace(/ and: .*/, ' and: <ERR>'));

test('--retries: a run that ended with errors is run again, with rclone\'s "Attempt N/M" lines; --retries-sleep; a failed copy exits as rclone\'s', async () => {
  const src = local('retry-src');
  makeTree(src, { 'bad.txt': 'refused\n', 'good.txt': 'fine\n' });
  // the first PUT of bad.txt in each bucket is refused (403: no low-level retry), later ones pass
  const refused = new Set<string>();
  const once = (q: { type: string; path: string }) => {
    if (q.type !== 'PUT' || !q.path.endsWith('/retry/bad.txt') || refused.has(q.path)) return undefined;
    refused.add(q.path);
    return { status: 403, code: 'AccessDenied' };
  };
  const [r, f] = await c.s3.withFault(once, async () => [
    await rclone(['copy', src, `moto:${R}/retry`], { retries: true }),
    await cli(c, ['copy', '--retries', '3', src, `moto:${BF}/retry`]),
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(f.code, 0, f.stderr);
  assert.deepEqual(attempts(f.stderr), attempts(r.stderr));
  assert.deepEqual(attempts(f.stderr), ['ERROR : Attempt 1/3 failed with 1 errors and: <ERR>', 'ERROR : Attempt 2/3 succeeded']);
  assert.equal(await c.s3.getObject(BF, 'retry/bad.txt').then(String), 'refused\n');

  // always refused: every attempt fails, the exit code is rclone's (copy: as sync); --retries-sleep waits between them
  const always = (q: { type: string; path: string }) =>
    q.type === 'PUT' && q.path.endsWith('/retry2/bad.txt') ? { status: 403, code: 'AccessDenied' } : undefined;
  const t0 = Date.now();
  const [r2, f2] = await c.s3.withFault(always, async () => [
    await rclone(['copy', '--retries', '2', src, `moto:${R}/retry2`], { retries: true }),
    await cli(c, ['copy', '-v', '--retries', '2', '--retries-sleep', '300ms', src, `moto:${BF}/retry2`]),
  ]);
  assert.ok(Date.now() - t0 >= 300, 'the sleep between the attempts');
  assert.equal(f2.code, r2.code, `${f2.stderr}\n---\n${r2.stderr}`);
  assert.deepEqual(attempts(f2.stderr), attempts(r2.stderr));
  assert.equal(f2.stderr.match(/^Transferred: /gm)?.length, 2, 'one stats block (two Transferred: lines), after the last attempt');
  assert.match(f2.stderr.trimEnd().split('\n').at(-1)!, /^bucketfs: Failed to copy: /);

  // a usage error is not retried (one line), nor is --max-delete's fatal error
  await fails(c, ['copy', '--retries', 'x', src, `moto:${BF}/retry2`], { code: 1 });
  for (const b of [R, BF]) await c.s3.putObject(b, 'retry/extra.txt', 'x');
  const fatal = await cli(c, ['sync', '--retries', '3', '--max-delete', '0', local('retry-src'), `moto:${BF}/retry`]);
  const fatalR = await rclone(['sync', '--max-delete', '0', local('retry-src'), `moto:${R}/retry`], { retries: true });
  assert.equal(fatal.code, 7);
  assert.equal(fatalR.code, 7);
  assert.deepEqual(attempts(fatal.stderr), attempts(fatalR.stderr));
});

test('--bwlimit: a transfer stays near the limit both ways (2 MiB at 1M: ≥ 1.5 s), cat and rcat too; a bad value is one line', async () => {
  const src = local('bw-src');
  const data = Buffer.alloc(2 * 1024 * 1024, 7);
  makeTree(src, {});
  writeFileSync(path.join(src, 'two.bin'), data);
  const timed = async (args: string[], input?: Buffer) => {
    const t0 = performance.now();
    const r = await cli(c, args, { input: input as unknown as string });
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    return { secs: (performance.now() - t0) / 1000, out: r.stdoutBytes };
  };
  const up = await timed(['copy', '--bwlimit', '1M', src, `moto:${BF}/bw`]);
  assert.ok(up.secs >= 1.5 && up.secs < 10, `upload of 2 MiB at 1M took ${up.secs} s`);
  const down = await timed(['copy', '--bwlimit', '1M', `moto:${BF}/bw`, local('bw-dst')]);
  assert.ok(down.secs >= 1.5 && down.secs < 10, `download of 2 MiB at 1M took ${down.secs} s`);
  assert.ok(readFileSync(local('bw-dst', 'two.bin')).equals(data));
  // UP:DOWN: only the download is limited here
  const cat = await timed(['cat', '--bwlimit', 'off:1M', `moto:${BF}/bw/two.bin`]);
  assert.ok(cat.secs >= 1.5, `cat of 2 MiB at 1M took ${cat.secs} s`);
  assert.ok(cat.out.equals(data));
  const rcat = await timed(['rcat', '--bwlimit', '1M', `moto:${BF}/bw/rcat.bin`], data);
  assert.ok(rcat.secs >= 1.5, `rcat of 2 MiB at 1M took ${rcat.secs} s`);
  await fails(c, ['copy', '--bwlimit', 'fast', src, `moto:${BF}/bw`], { code: 1, match: /--bwlimit/ });
  await fails(c, ['copy', '--bwlimit', '08:00,1M 25:00,off', src, `moto:${BF}/bw`], { code: 1, match: /--bwlimit/ });
});

test("listremotes: sorted as rclone sorts them, config file and environment together; a failed copy exits as rclone's copy", async () => {
  const conf = local('unsorted.conf');
  writeFileSync(conf, '[zeta]\ntype = s3\nprovider = Other\n\n[alpha]\ntype = s3\nprovider = Other\n\n[mid]\ntype = local\n');
  const env = { ...c.env, RCLONE_CONFIG: conf, RCLONE_CONFIG_AAA_TYPE: 'local' };
  for (const args of [['listremotes'], ['listremotes', '--long']]) {
    const theirs = await run('rclone', args, { env });
    assert.equal(theirs.code, 0, theirs.stderr);
    assert.equal(await ok(c, args, { env }), theirs.stdout, args.join(' '));
  }
  // one file refused (403): rclone's copy exits 1 (its error is not a retry or fatal one), as its sync
  const src = local('exit-src');
  makeTree(src, { 'bad.txt': 'refused\n' });
  const refuse = (q: { type: string; path: string }) =>
    q.type === 'PUT' && q.path.endsWith('/exit/bad.txt') ? { status: 403, code: 'AccessDenied' } : undefined;
  const [r, f] = await c.s3.withFault(refuse, async () => [await rclone(['copy', src, `moto:${R}/exit`]), await cli(c, ['copy', src, `moto:${BF}/exit`])]);
  assert.equal(f.code, r.code, `${f.stderr}\n---\n${r.stderr}`);
  assert.equal(f.code, 1);
});
