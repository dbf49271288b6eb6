// --backup-dir, --suffix and --suffix-keep-extension of sync, copy and move through the real CLI
// against moto, with the installed rclone (1.60) as the oracle: each case runs `rclone …` on one
// copy of the data and `bucketfs …` on another (a second bucket or directory set up the same),
// then compares the destination and the backup directory (path, size, MD5, modification time),
// the log lines at -v with the stats block (times, rates and names made neutral) and the exit code.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { RunResult } from '../helpers/run.js';
import { startCli, cli, writes, type CliEnv, neutralLines, rcloneOn, requireRclone } from './cli-support.js';

let c: CliEnv;
/** the bucket rclone works on, and bucketfs's */
const R = 'backup-rclone';
const BF = 'backup-bucketfs';

before(async () => {
  await requireRclone();
  c = await startCli();
  // a second remote with the very same settings: still another remote for --backup-dir
  for (const k of Object.keys(c.env)) if (k.startsWith('RCLONE_CONFIG_MOTO_')) c.env[k.replace('_MOTO_', '_MOTO2_')] = c.env[k];
  await c.s3.createBucket(R);
  await c.s3.createBucket(BF);
});
after(async () => {
  await c?.s3.stop();
  if (c) rmSync(c.dir, { recursive: true, force: true });
});

const rclone = (args: string[]): Promise<RunResult> => rcloneOn(c, args);

/**
 * Sorted log lines without what differs between runs. rclone's S3 backend also logs `Bucket "…"
 * created` when it first writes to the backup directory's (existing) bucket: moto answers a
 * CreateBucket of an existing bucket with 200; bucketfs creates a bucket only when it is missing.
 */
const normal = (stderr: string, names: string[]): string[] =>
  neutralLines(stderr, names)
    .filter((l) => !/Bucket ".*" created with ACL/.test(l))
    .sort();

function local(...parts: string[]): string {
  return path.join(c.dir, ...parts);
}

/** Write files (rel → content) under dir, each with a fixed mtime. */
function makeTree(dir: string, files: Record<string, string>, mtime = 1_600_000_000): void {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const [rel, data] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    writeFileSync(path.join(dir, rel), data);
    utimesSync(path.join(dir, rel), mtime, mtime);
  }
}

/** A local tree: every file with its content's MD5 and mtime. */
function localTree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string, rel: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(path.join(d, e.name), r);
      else
        out[r] = `${createHash('md5')
          .update(readFileSync(path.join(d, e.name)))
          .digest('hex')} ${statSync(path.join(d, e.name), { bigint: true }).mtimeNs}`;
    }
  };
  if (existsSync(dir)) walk(dir, '');
  return out;
}

/** A remote tree as rclone sees it: path → size, MD5, modification time. */
async function remoteTree(loc: string): Promise<Record<string, string>> {
  const r = await rclone(['lsjson', '-R', '--files-only', '--hash', loc]);
  if (r.code === 3) return {};
  assert.equal(r.code, 0, r.stderr);
  const out: Record<string, string> = {};
  for (const e of JSON.parse(r.stdout) as Array<{ Path: string; Size: number; ModTime: string; Hashes?: { md5?: string } }>) {
    out[e.Path] = `${e.Size} ${e.Hashes?.md5 ?? '-'} ${e.ModTime}`;
  }
  return out;
}

// a.txt and sub/b.txt replaced, same.txt unchanged, extra.txt and sub/gone.tar.gz only at the destination
const SRC = { 'a.txt': 'new\n', 'same.txt': 'same\n', 'sub/b.txt': 'newb\n' };
const DST = { 'a.txt': 'old a, longer\n', 'same.txt': 'same\n', 'sub/b.txt': 'old b\n', 'extra.txt': 'x\n', 'sub/gone.tar.gz': 'gz\n' };

/** Seed `remote:bucket/prefix/d` with DST (rclone copy, the same for both buckets). */
async function seed(bucket: string, prefix: string): Promise<void> {
  const dir = local('seed', bucket, prefix);
  makeTree(dir, DST);
  const r = await rclone(['copy', dir, `moto:${bucket}/${prefix}/d`]);
  assert.equal(r.code, 0, r.stderr);
}

const CASES: Array<{ verb: string; flags: (root: string) => string[] }> = [
  { verb: 'sync', flags: (root) => ['--backup-dir', `${root}/bk`] },
  { verb: 'sync', flags: (root) => ['--backup-dir', `${root}/bk`, '--suffix', '-2024'] },
  { verb: 'sync', flags: (root) => ['--backup-dir', `${root}/bk`, '--suffix', '-2024', '--suffix-keep-extension'] },
  { verb: 'sync', flags: () => ['--suffix', '.bak'] },
  { verb: 'sync', flags: () => ['--suffix', '-old', '--suffix-keep-extension'] },
  { verb: 'copy', flags: (root) => ['--backup-dir', `${root}/bk`, '--suffix', '.1'] },
  { verb: 'move', flags: (root) => ['--backup-dir', `${root}/bk`] },
];

test('sync, copy, move with --backup-dir, --suffix, --suffix-keep-extension, and --suffix alone: the same buckets, log lines and stats as rclone', async () => {
  for (const [i, k] of CASES.entries()) {
    const what = `${k.verb} ${k.flags('DIR').join(' ')}`;
    const prefix = `case${i}`;
    const srcs = [local(prefix, 'rclone'), local(prefix, 'bucketfs')];
    for (const s of srcs) makeTree(s, SRC);
    for (const b of [R, BF]) await seed(b, prefix);
    const args = (bucket: string, src: string) => [k.verb, '-v', src, `moto:${bucket}/${prefix}/d`, ...k.flags(`moto:${bucket}/${prefix}`)];
    const r = await rclone(args(R, srcs[0]!));
    const b = await cli(c, args(BF, srcs[1]!));
    assert.equal(r.code, 0, `${what}: ${r.stderr}`);
    assert.equal(b.code, 0, `${what}: ${b.stderr}`);
    const tree = await remoteTree(`moto:${BF}/${prefix}`);
    assert.deepEqual(tree, await remoteTree(`moto:${R}/${prefix}`), `${what}: destination and backup`);
    assert.deepEqual(localTree(srcs[1]!), localTree(srcs[0]!), `${what}: the source`);
    let [lb, lr] = [normal(b.stderr, [BF, srcs[1]!]), normal(r.stderr, [R, srcs[0]!])];
    // move: bucketfs's count of checks for a plain move differs from rclone's (2 per file the
    // destination already has), with or without a backup: compared without it
    if (k.verb === 'move') [lb, lr] = [lb, lr].map((ls) => ls.filter((l) => !l.startsWith('Checks:')));
    assert.deepEqual(lb, lr, `${what}: log lines`);
    if (i === 2) {
      // the suffix before the (last) extension, as rclone 1.60 puts it
      assert.deepEqual(Object.keys(tree).sort(), [
        'bk/a-2024.txt',
        'bk/extra-2024.txt',
        'bk/sub/b-2024.txt',
        'bk/sub/gone.tar-2024.gz',
        'd/a.txt',
        'd/same.txt',
        'd/sub/b.txt',
      ]);
      assert.ok(lb.includes('INFO  : extra.txt: Moved into backup dir'), lb.join('\n'));
      assert.ok(lb.includes('INFO  : a.txt: Copied (server-side copy) to: a-2024.txt'), lb.join('\n'));
      assert.ok(lb.includes('Renamed:                4'), lb.join('\n'));
    }
    if (i === 3) assert.ok('d/extra.txt.bak' in tree && 'd/a.txt.bak' in tree, JSON.stringify(tree));
  }
});

test('a local destination with a local --backup-dir: renamed as rclone renames them ("Moved (server-side)")', async () => {
  const src = local('ll', 'src');
  makeTree(src, SRC);
  const dsts = [local('ll', 'dst-rclone'), local('ll', 'dst-bucketfs')];
  const bks = [local('ll', 'bk-rclone'), local('ll', 'bk-bucketfs')];
  for (const d of dsts) makeTree(d, DST, 1_500_000_000);
  const r = await rclone(['sync', '-v', src, dsts[0]!, '--backup-dir', bks[0]!, '--suffix', '.b']);
  const b = await cli(c, ['sync', '-v', src, dsts[1]!, '--backup-dir', bks[1]!, '--suffix', '.b']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(b.code, 0, b.stderr);
  assert.deepEqual(localTree(dsts[1]!), localTree(dsts[0]!));
  assert.deepEqual(localTree(bks[1]!), localTree(bks[0]!));
  assert.deepEqual(Object.keys(localTree(bks[1]!)).sort(), ['a.txt.b', 'extra.txt.b', 'sub/b.txt.b', 'sub/gone.tar.gz.b']);
  const lines = normal(b.stderr, [...dsts, ...bks, src]);
  assert.deepEqual(lines, normal(r.stderr, [...dsts, ...bks, src]));
  assert.ok(lines.includes('INFO  : a.txt: Moved (server-side) to: a.txt.b'), lines.join('\n'));
});

test('--dry-run: rclone\'s "Skipped move" lines and stats, not one write request; -i asks move, copy, delete for each backup', async () => {
  const src = local('dry', 'src');
  makeTree(src, SRC);
  for (const b of [R, BF]) await seed(b, 'dry');
  const args = (bucket: string) => ['sync', '--dry-run', src, `moto:${bucket}/dry/d`, '--backup-dir', `moto:${bucket}/dry/bk`];
  const r = await rclone(args(R));
  c.s3.clearRequests();
  const b = await cli(c, args(BF));
  assert.equal(writes(c.s3), 0, JSON.stringify(c.s3.counts()));
  assert.equal(b.code, 0, b.stderr);
  assert.equal(r.code, 0, r.stderr);
  const lines = normal(b.stderr, [BF, src]);
  assert.deepEqual(lines, normal(r.stderr, [R, src]));
  assert.ok(lines.includes('NOTICE: a.txt: Skipped move as --dry-run is set (size 14)'), lines.join('\n'));
  assert.ok(lines.includes('NOTICE: extra.txt: Skipped move into backup dir as --dry-run is set (size 2)'), lines.join('\n'));
  assert.deepEqual(Object.keys(await remoteTree(`moto:${BF}/dry`)).length, 5);

  // -i (rclone reads its answers from a terminal, so bucketfs alone): the backup of a.txt is
  // rclone's Move on S3 (move, then the copy and the delete it is made of), then a.txt's own copy
  makeTree(src, { 'a.txt': 'new\n' });
  await rclone(['copy', local('seed', BF, 'dry'), `moto:${BF}/ask/d`, '--include', '{a.txt,extra.txt}']);
  const asked = await cli(c, ['sync', '-i', src, `moto:${BF}/ask/d`, '--backup-dir', `moto:${BF}/ask/bk`, '--transfers', '1', '--checkers', '1'], {
    input: 'y\ny\ny\ny\ny\nn\n',
  });
  assert.equal(asked.code, 0, asked.stderr);
  const questions = asked.stderr.split('\n').flatMap((l) => /bucketfs: (.+ ".+") \(size \d+\)\?/.exec(l)?.[1] ?? []);
  assert.deepEqual(questions, ['move "a.txt"', 'copy "a.txt"', 'delete "a.txt"', 'copy "a.txt"', 'move into backup dir "extra.txt"', 'move "extra.txt"']);
  // extra.txt: yes to "move into backup dir", no to its move: it stays (rclone logs it as moved all the same)
  assert.deepEqual(Object.keys(await remoteTree(`moto:${BF}/ask`)).sort(), ['bk/a.txt', 'd/a.txt', 'd/extra.txt']);
});

test('refusals as rclone: another remote, overlapping the destination or the source (fatal, exit 7); a filter-excluded backup dir inside the destination works', async () => {
  const src = local('ref', 'src');
  makeTree(src, SRC);
  for (const b of [R, BF]) await seed(b, 'ref');
  const cases: Array<[string, (bucket: string) => string[]]> = [
    ['another remote', (bk) => [src, `moto:${bk}/ref/d`, '--backup-dir', `moto2:${bk}/ref/bk`]],
    ['a local dir for a remote', (bk) => [src, `moto:${bk}/ref/d`, '--backup-dir', local('ref', 'bk')]],
    ['a remote for a local dir', (bk) => [`moto:${bk}/ref/d`, local('ref', 'dst'), '--backup-dir', `moto:${bk}/ref/bk`]],
    ['inside the destination', (bk) => [src, `moto:${bk}/ref/d`, '--backup-dir', `moto:${bk}/ref/d/inner`]],
    ['above the destination', (bk) => [src, `moto:${bk}/ref/d`, '--backup-dir', `moto:${bk}/ref`]],
    ['inside the source', (bk) => [`moto:${bk}/ref/d`, `moto:${bk}/ref/d2`, '--backup-dir', `moto:${bk}/ref/d/old`]],
  ];
  for (const [what, args] of cases) {
    for (const verb of what === 'inside the destination' ? ['sync', 'copy', 'move'] : ['sync']) {
      const r = await rclone([verb, ...args(R)]);
      c.s3.clearRequests();
      const b = await cli(c, [verb, ...args(BF)]);
      assert.equal(writes(c.s3), 0, `${verb}, ${what}: nothing written`);
      assert.equal(r.code, 7, `${verb}, ${what}: ${r.stderr}`);
      assert.equal(b.code, 7, `${verb}, ${what}: ${b.stderr}`);
      const last = (s: string) =>
        s
          .trim()
          .split('\n')
          .at(-1)!
          .replace(/^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d /, '');
      assert.equal(last(b.stderr), `bucketfs: ${last(r.stderr)}`, `${verb}, ${what}`);
      assert.match(b.stderr, /ERROR : Fatal error received - not attempting retries/);
    }
  }
  // excluded by the filters, the backup dir may be inside the destination
  const args = (bucket: string) => ['sync', '-v', src, `moto:${bucket}/ref/d`, '--backup-dir', `moto:${bucket}/ref/d/old`, '--exclude', 'old/**'];
  const r = await rclone(args(R));
  const b = await cli(c, args(BF));
  assert.equal(r.code, 0, r.stderr);
  assert.equal(b.code, 0, b.stderr);
  assert.deepEqual(await remoteTree(`moto:${BF}/ref`), await remoteTree(`moto:${R}/ref`));
  assert.ok('d/old/extra.txt' in (await remoteTree(`moto:${BF}/ref`)));
  assert.deepEqual(normal(b.stderr, [BF, src]), normal(r.stderr, [R, src]));
});

// a single file: rclone's moveOrCopyFile, the destination file's directory as the destination
const FILE_CASES: Array<{ verb: string; from: string; to: string; flags: (root: string) => string[] }> = [
  { verb: 'copyto', from: 'a.txt', to: 'd/a.txt', flags: (root) => ['--backup-dir', `${root}/bk`] },
  { verb: 'copyto', from: 'a.txt', to: 'd/sub/b.txt', flags: (root) => ['--backup-dir', `${root}/bk`, '--suffix', '-2024'] },
  { verb: 'copyto', from: 'a.txt', to: 'd/sub/gone.tar.gz', flags: (root) => ['--backup-dir', `${root}/bk`, '--suffix', '-2024', '--suffix-keep-extension'] },
  { verb: 'copyto', from: 'a.txt', to: 'd/a.txt', flags: () => ['--suffix', '.bak'] },
  { verb: 'copyto', from: 'a.txt', to: 'd/a.txt', flags: () => ['--suffix', '-old', '--suffix-keep-extension'] },
  { verb: 'copyto', from: 'same.txt', to: 'd/same.txt', flags: (root) => ['--backup-dir', `${root}/bk`] },
  { verb: 'copyto', from: 'a.txt', to: 'd/new.txt', flags: (root) => ['--backup-dir', `${root}/bk`] },
  { verb: 'moveto', from: 'a.txt', to: 'd/a.txt', flags: (root) => ['--backup-dir', `${root}/bk`] },
  { verb: 'moveto', from: 'a.txt', to: 'd/extra.txt', flags: (root) => ['--backup-dir', `${root}/bk`, '--suffix', '-2024'] },
  { verb: 'moveto', from: 'a.txt', to: 'd/sub/gone.tar.gz', flags: (root) => ['--backup-dir', `${root}/bk`, '--suffix', '-2024', '--suffix-keep-extension'] },
  { verb: 'moveto', from: 'a.txt', to: 'd/a.txt', flags: () => ['--suffix', '.bak'] },
  { verb: 'copy', from: 'a.txt', to: 'd', flags: (root) => ['--backup-dir', `${root}/bk`] },
  { verb: 'sync', from: 'a.txt', to: 'd', flags: () => ['--suffix', '.bak'] },
  { verb: 'move', from: 'a.txt', to: 'd', flags: (root) => ['--backup-dir', `${root}/bk`, '--suffix', '-1', '--suffix-keep-extension'] },
];

test('a single file (copyto, moveto; copy, sync, move of a file) with --backup-dir, --suffix, --suffix-keep-extension, --suffix alone: the same buckets, log lines and stats as rclone', async () => {
  for (const [i, k] of FILE_CASES.entries()) {
    const what = `${k.verb} ${k.from} ${k.to} ${k.flags('DIR').join(' ')}`;
    const prefix = `file${i}`;
    const srcs = [local(prefix, 'rclone'), local(prefix, 'bucketfs')];
    for (const s of srcs) makeTree(s, SRC);
    for (const b of [R, BF]) await seed(b, prefix);
    const args = (bucket: string, src: string) => [
      k.verb,
      '-v',
      path.join(src, k.from),
      `moto:${bucket}/${prefix}/${k.to}`,
      ...k.flags(`moto:${bucket}/${prefix}`),
    ];
    const r = await rclone(args(R, srcs[0]!));
    const b = await cli(c, args(BF, srcs[1]!));
    assert.equal(r.code, 0, `${what}: ${r.stderr}`);
    assert.equal(b.code, 0, `${what}: ${b.stderr}`);
    const tree = await remoteTree(`moto:${BF}/${prefix}`);
    assert.deepEqual(tree, await remoteTree(`moto:${R}/${prefix}`), `${what}: destination and backup`);
    assert.deepEqual(localTree(srcs[1]!), localTree(srcs[0]!), `${what}: the source`);
    const lb = normal(b.stderr, [BF, srcs[1]!]);
    // rclone says "There was nothing to transfer" for a tree only, never for a single file
    assert.deepEqual(lb, normal(r.stderr, [R, srcs[0]!]), `${what}: log lines`);
    assert.ok(!lb.some((l) => l.includes('There was nothing to transfer')), lb.join('\n'));
    if (i === 2) assert.ok('bk/gone.tar-2024.gz' in tree && 'd/sub/gone.tar.gz' in tree, JSON.stringify(tree));
    if (i === 3) assert.ok('d/a.txt.bak' in tree, JSON.stringify(tree));
    if (i === 5 || i === 6) assert.ok(!Object.keys(tree).some((p) => p.startsWith('bk/')), `${what}: nothing to back up: ${JSON.stringify(tree)}`);
    if (i === 7) assert.ok('bk/a.txt' in tree && !existsSync(path.join(srcs[1]!, 'a.txt')), JSON.stringify(tree));
  }
});

test('a single file: refused as rclone ("creating Fs for --backup-dir failed: …", fatal, exit 7), nothing written', async () => {
  const src = local('fref', 'src');
  makeTree(src, SRC);
  for (const b of [R, BF]) await seed(b, 'fref');
  const cases: Array<[string, (bucket: string) => string[]]> = [
    ['copyto, the destination', (bk) => ['copyto', path.join(src, 'a.txt'), `moto:${bk}/fref/d/a.txt`, '--backup-dir', `moto:${bk}/fref/d`]],
    ['moveto, the destination', (bk) => ['moveto', path.join(src, 'a.txt'), `moto:${bk}/fref/d/sub/b.txt`, '--backup-dir', `moto:${bk}/fref/d/sub/`]],
    ['copy, the destination', (bk) => ['copy', path.join(src, 'a.txt'), `moto:${bk}/fref/d`, '--backup-dir', `moto:${bk}/fref/d`]],
    ['copyto, another remote', (bk) => ['copyto', path.join(src, 'a.txt'), `moto:${bk}/fref/d/a.txt`, '--backup-dir', `moto2:${bk}/fref/bk`]],
    ['copyto, the source', (bk) => ['copyto', `moto:${bk}/fref/d/a.txt`, `moto:${bk}/fref/e/a.txt`, '--backup-dir', `moto:${bk}/fref/d`]],
  ];
  for (const [what, args] of cases) {
    const r = await rclone(args(R));
    c.s3.clearRequests();
    const b = await cli(c, args(BF));
    assert.equal(writes(c.s3), 0, `${what}: nothing written`);
    assert.equal(r.code, 7, `${what}: ${r.stderr}`);
    assert.equal(b.code, 7, `${what}: ${b.stderr}`);
    const last = (s: string) =>
      s
        .trim()
        .split('\n')
        .at(-1)!
        .replace(/^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d /, '');
    assert.equal(last(b.stderr), `bucketfs: ${last(r.stderr)}`, what);
    assert.match(b.stderr, /ERROR : Fatal error received - not attempting retries/);
  }
  // with --suffix the destination's own directory is allowed: the backup renamed next to it
  const args = (bucket: string) => [
    'copyto',
    '-v',
    path.join(src, 'a.txt'),
    `moto:${bucket}/fref/d/a.txt`,
    '--backup-dir',
    `moto:${bucket}/fref/d`,
    '--suffix',
    '.s',
  ];
  const r = await rclone(args(R));
  const b = await cli(c, args(BF));
  assert.equal(r.code, 0, r.stderr);
  assert.equal(b.code, 0, b.stderr);
  assert.deepEqual(await remoteTree(`moto:${BF}/fref`), await remoteTree(`moto:${R}/fref`));
  assert.ok('d/a.txt.s' in (await remoteTree(`moto:${BF}/fref`)));
  assert.deepEqual(normal(b.stderr, [BF, src]), normal(r.stderr, [R, src]));
});
