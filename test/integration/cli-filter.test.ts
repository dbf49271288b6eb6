// The filter flags (src/cli/filter.ts) through the real CLI against moto, with the installed
// rclone (1.60) as the oracle: for a table of filter sets, `bucketfs lsf -R` and `rclone lsf -R`
// of the same bucket print the same lines; copy and sync with filters leave the same files at
// the destination as rclone's (files sync excludes survive at the destination); bad patterns and
// files are one line and a non-zero exit.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { run, type RunResult } from '../helpers/run.js';
import { startCli, cli, ok, fails, TEST_SECRET_KEY, type CliEnv } from './cli-support.js';

let c: CliEnv;
/** the listed bucket; R and BF: the destinations of rclone's and bucketfs's copies */
const L = 'filter-list';
const R = 'filter-rclone';
const BF = 'filter-bucketfs';

/** Names that exercise the rules: segments, anchoring, dots, brackets, depth, sizes. */
const FILES: Record<string, number> = {
  'top.txt': 10,
  'top.jpg': 3000,
  README: 1,
  '.hidden': 5,
  'a/x.txt': 1500,
  'a/y.jpg': 20,
  'a/b/c.txt': 7000,
  'a/b/d.jpg': 2,
  'a/b/deep/e.txt': 100,
  'b/x.txt': 1024,
  'b/file.md': 1025,
  'my.dir/f.txt': 3,
  'sub/a/x.txt': 4,
  'sub/a/q.md': 4000,
  'onlyjpg/p.jpg': 9,
  'br[1].txt': 6,
  'x/y/z/w/v.txt': 8,
};

function local(...parts: string[]): string {
  return path.join(c.dir, ...parts);
}

function makeTree(dir: string, files: Record<string, number>, mtime = 1_600_000_000): void {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const [rel, size] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    writeFileSync(path.join(dir, rel), Buffer.alloc(size, 'x'));
    utimesSync(path.join(dir, rel), mtime, mtime);
  }
}

/** rclone on the same server, one attempt */
async function rclone(args: string[], input?: string): Promise<RunResult> {
  const r = await run('rclone', ['--retries', '1', ...args], { env: c.env, input });
  assert.ok(!(r.stdout + r.stderr).includes(TEST_SECRET_KEY), `the secret appeared in the output of rclone ${args.join(' ')}`);
  return r;
}

const sortedLines = (s: string) =>
  s
    .split('\n')
    .filter((l) => l !== '')
    .sort();

before(async () => {
  const v = await run('rclone', ['version']).catch((err: Error) => ({ code: -1, stdout: '', stderr: err.message }) as RunResult);
  assert.equal(v.code, 0, `rclone is needed for this test: ${v.stderr}`);
  c = await startCli();
  for (const b of [L, R, BF]) await c.s3.createBucket(b);
  makeTree(local('tree'), FILES);
  const r = await rclone(['copy', local('tree'), `moto:${L}`]);
  assert.equal(r.code, 0, r.stderr);
  writeFileSync(local('rules.txt'), '# a comment\n; another\n\n- *.jpg\n  + a/**  \n+ /top.*\n- *\n');
  writeFileSync(local('includes.txt'), '*.md\n# not a rule\n/b/**\n');
  writeFileSync(local('excludes.txt'), 'deep/\n*.txt\n');
  writeFileSync(local('clear.txt'), '- *.txt\n!\n- *.jpg\n');
});
after(async () => {
  await c?.s3.stop();
  if (c) rmSync(c.dir, { recursive: true, force: true });
});

// Each set: the flags given to both tools.
const FILTER_SETS: string[][] = [
  [],
  ['--include', '*.txt'],
  ['--exclude', '*.jpg'],
  ['--exclude', 'a/'],
  ['--exclude', '/a/'],
  ['--include', '/a/**'],
  ['--include', 'a/**'],
  ['--include', 'a/'],
  ['--include', '/a/b/*.txt'],
  ['--include', '{top,x}.*'],
  ['--include', '?op.*'],
  ['--include', '[a-b]/*.txt'],
  ['--include', 'br\\[1\\].txt'],
  ['--include', '*.txt', '--include', '*.md'],
  ['--exclude', '**/deep/**'],
  ['--exclude', '.*'],
  ['--exclude', '*'],
  ['--exclude', 'x/y/'],
  ['--include', 'x/**/v.txt'],
  ['--include', '*.txt', '--exclude', 'b/**'],
  ['--filter', '- b/**', '--filter', '+ *.txt', '--filter', '- *'],
  ['-f', '+ a/b/**', '-f', '- a/**'],
  ['--filter-from', 'rules.txt'],
  ['--filter-from', 'clear.txt'],
  ['--include-from', 'includes.txt'],
  ['--exclude-from', 'excludes.txt'],
  ['--max-depth', '1'],
  ['--max-depth', '2', '--exclude', '*.md'],
  ['--max-depth', '3', '--include', '*.txt'],
  ['--min-size', '2k'],
  ['--max-size', '1'],
  ['--max-size', '100b', '--exclude', 'a/**'],
  ['--min-size', '1024b', '--max-size', '1025b'],
  ['--include=*.md', '--filter=- sub/**'],
];

/** file names in the flags resolved in the test's directory */
const withFiles = (flags: string[]) => flags.map((f, i) => (i > 0 && /-from$/.test(flags[i - 1]!) ? local(f) : f));

test('lsf -R with filters: the same lines as rclone lsf -R, for every filter set', async () => {
  for (const set of FILTER_SETS) {
    const flags = withFiles(set);
    const r = await rclone(['lsf', '-R', ...flags, `moto:${L}`]);
    const b = await cli(c, ['lsf', '-R', ...flags, `moto:${L}`]);
    assert.equal(r.code, 0, `rclone lsf -R ${set.join(' ')}: ${r.stderr}`);
    assert.equal(b.code, 0, `bucketfs lsf -R ${set.join(' ')}: ${b.stderr}`);
    assert.deepEqual(sortedLines(b.stdout), sortedLines(r.stdout), `lsf -R ${set.join(' ')}`);
  }
});

test('one level and other listing commands obey the same filters as rclone (lsf, ls, lsjson, size)', async () => {
  const cases: string[][] = [
    ['lsf', '--include', '*.txt'],
    ['lsf', '--exclude', 'a/'],
    ['lsf', '--files-only', '-R', '--include', 'a/**'],
    ['lsf', '--dirs-only', '-R', '--exclude', 'a/b/'],
    ['ls', '--include', '*.txt'],
    ['ls', '--max-depth', '2'],
    ['ls', '--exclude', 'sub/', '--min-size', '5'],
    ['size', '--include', '*.md'],
    ['size', '--max-size', '1k'],
  ];
  for (const args of cases) {
    const r = await rclone([...args, `moto:${L}`]);
    const b = await cli(c, [...args, `moto:${L}`]);
    assert.equal(b.code, r.code, `${args.join(' ')}: ${b.stderr}`);
    assert.deepEqual(sortedLines(b.stdout), sortedLines(r.stdout), args.join(' '));
  }
  // lsjson: the same paths
  const paths = (s: string) => (JSON.parse(s) as Array<{ Path: string; IsDir: boolean }>).map((e) => `${e.Path}${e.IsDir ? '/' : ''}`).sort();
  for (const flags of [
    ['--include', '*.txt'],
    ['--exclude', '/a/', '--max-depth', '2'],
  ]) {
    const r = await rclone(['lsjson', '-R', ...flags, `moto:${L}`]);
    const b = await ok(c, ['lsjson', '-R', ...flags, `moto:${L}`]);
    assert.deepEqual(paths(b), paths(r.stdout), `lsjson -R ${flags.join(' ')}`);
  }
});

test('--include with --exclude: the same warning as rclone; bad patterns, rules and files: one line, non-zero exit', async () => {
  const b = await cli(c, ['lsf', '--include', '*.txt', '--exclude', 'b/**', `moto:${L}`]);
  assert.equal(b.code, 0);
  assert.match(b.stderr, /ERROR : Using --filter is recommended instead of both --include and --exclude as the order they are parsed in is indeterminate/);
  for (const [flags, match] of [
    [['--include', 'a]'], /mismatched '\]' in glob "a\]"/],
    [['--include', '[ab'], /mismatched '\[' and '\]'/],
    [['--exclude', '{a,b'], /mismatched '\{' and '\}'/],
    [['--exclude', '***'], /too many stars/],
    [['--filter', 'x.txt'], /malformed rule "x\.txt"/],
    [['--filter-from', local('no-such-file')], /no-such-file/],
    [['--min-size', 'lots'], /invalid size/],
    [['--max-age', '3x'], /invalid duration/],
  ] as Array<[string[], RegExp]>) {
    await fails(c, ['lsf', ...flags, `moto:${L}`], { code: 1, match });
    const r = await rclone(['lsf', ...flags, `moto:${L}`]);
    assert.notEqual(r.code, 0, `rclone accepts ${flags.join(' ')}?`);
  }
});

test('--files-from: exactly the listed files, as rclone', async () => {
  writeFileSync(local('files.txt'), 'top.txt\na/b/c.txt\n# comment\nnot-there.txt\n/b/x.txt\n');
  for (const cmd of [['lsf', '-R'], ['ls']]) {
    const r = await rclone([...cmd, '--files-from', local('files.txt'), `moto:${L}`]);
    const b = await ok(c, [...cmd, '--files-from', local('files.txt'), `moto:${L}`]);
    assert.deepEqual(sortedLines(b), sortedLines(r.stdout), cmd.join(' '));
  }
});

/** The files of a local directory, with their sizes. */
function localFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(path.join(d, e.name), r);
      else out.push(r);
    }
  };
  walk(dir, '');
  return out.sort();
}

test('copy and sync with filters: the same files at the destination as rclone; sync leaves excluded destination files alone', async () => {
  const sets: string[][] = [
    ['--include', '*.txt'],
    ['--exclude', 'a/', '--exclude', '*.md'],
    ['--filter-from', 'rules.txt'],
    ['--max-depth', '2', '--min-size', '5b'],
  ];
  for (const [i, set] of sets.entries()) {
    const flags = withFiles(set);
    // local → remote copy
    const r = await rclone(['copy', ...flags, local('tree'), `moto:${R}/copy${i}`]);
    const b = await cli(c, ['copy', ...flags, local('tree'), `moto:${BF}/copy${i}`]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(b.code, 0, b.stderr);
    const listed = async (loc: string) => sortedLines((await rclone(['lsf', '-R', '--files-only', loc])).stdout);
    const want = await listed(`moto:${R}/copy${i}`);
    assert.ok(want.length > 0, `rclone copied something for ${set.join(' ')}`);
    assert.deepEqual(await listed(`moto:${BF}/copy${i}`), want, `copy ${set.join(' ')}`);
    // remote → local copy
    const dr = local('down', 'rclone', String(i));
    const db = local('down', 'bucketfs', String(i));
    assert.equal((await rclone(['copy', ...flags, `moto:${L}`, dr])).code, 0);
    await ok(c, ['copy', ...flags, `moto:${L}`, db]);
    assert.deepEqual(localFiles(db), localFiles(dr), `copy down ${set.join(' ')}`);
  }

  // sync: the destination holds an excluded file (survives) and a stale included one (deleted)
  const extra = { 'stale.txt': 3, 'keep.jpg': 4, 'a/old.jpg': 5, 'a/old.txt': 6 };
  for (const b of [R, BF]) {
    makeTree(local('seed', b), extra);
    assert.equal((await rclone(['copy', local('seed', b), `moto:${b}/sync`])).code, 0);
  }
  const flags = ['--exclude', '*.jpg'];
  const rs = await rclone(['sync', ...flags, local('tree'), `moto:${R}/sync`]);
  const bs = await cli(c, ['sync', ...flags, local('tree'), `moto:${BF}/sync`]);
  assert.equal(rs.code, 0, rs.stderr);
  assert.equal(bs.code, 0, bs.stderr);
  const after = async (bucket: string) => sortedLines((await rclone(['lsf', '-R', '--files-only', `moto:${bucket}/sync`])).stdout);
  const got = await after(BF);
  assert.deepEqual(got, await after(R));
  assert.ok(got.includes('keep.jpg') && got.includes('a/old.jpg'), 'excluded destination files survive the sync');
  assert.ok(!got.includes('stale.txt') && !got.includes('a/old.txt'), 'included destination files the source lacks are deleted');
  assert.ok(!got.includes('top.jpg'), 'excluded source files are not copied');

  // sync remote → local with a directory rule: the excluded directory at the destination is untouched
  for (const d of ['rclone', 'bucketfs']) makeTree(local('syncdown', d), { 'a/only-here.txt': 1, 'gone.md': 2 });
  assert.equal((await rclone(['sync', '--exclude', '/a/', `moto:${L}`, local('syncdown', 'rclone')])).code, 0);
  await ok(c, ['sync', '--exclude', '/a/', `moto:${L}`, local('syncdown', 'bucketfs')]);
  const down = localFiles(local('syncdown', 'bucketfs'));
  assert.deepEqual(down, localFiles(local('syncdown', 'rclone')));
  assert.ok(down.includes('a/only-here.txt') && !down.includes('gone.md'));
});
