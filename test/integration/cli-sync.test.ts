// sync, move and moveto through the real CLI against moto, with the installed rclone (1.60) as
// the oracle: each case runs `rclone …` on one copy of the data and `bucketfs …` on another copy
// (a second bucket or directory, set up identically), then compares what matters: the files and
// contents left at the destination (and the source, for move), the log lines (timestamps,
// rates, elapsed times and the bucket/directory names made neutral), and the exit code.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { CompleteMultipartUploadCommand, CreateMultipartUploadCommand, UploadPartCommand } from '@aws-sdk/client-s3';
import type { RunResult } from '../helpers/run.js';
import { startCli, cli, fails, writes, type CliEnv, neutralLines, rcloneOn, requireRclone } from './cli-support.js';

let c: CliEnv;
/** the bucket rclone works on, and bucketfs's */
const R = 'sync-rclone';
const BF = 'sync-bucketfs';

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

const rclone = (args: string[]): Promise<RunResult> => rcloneOn(c, args);
const normal = (stderr: string, names: string[]): string[] => neutralLines(stderr, names);

/** The sorted lines, for runs whose transfers go in parallel (their order is not fixed). */
const sorted = (lines: string[]) => [...lines].sort();

function local(...parts: string[]): string {
  return path.join(c.dir, ...parts);
}

/** Write files (rel → content) under dir, each with a fixed mtime (seconds), and the empty dirs. */
function makeTree(dir: string, files: Record<string, string>, mtime = 1_600_000_000, emptyDirs: string[] = []): void {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const [rel, data] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    writeFileSync(path.join(dir, rel), data);
    utimesSync(path.join(dir, rel), mtime, mtime);
  }
  for (const d of emptyDirs) mkdirSync(path.join(dir, d), { recursive: true });
}

/** A local tree: every file with its content's MD5 and mtime, every directory. */
function localTree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!existsSync(dir)) return out;
  const walk = (d: string, rel: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      const full = path.join(d, e.name);
      if (e.isDirectory()) {
        out[`${r}/`] = 'dir';
        walk(full, r);
      } else out[r] = `${createHash('md5').update(readFileSync(full)).digest('hex')} ${statSync(full, { bigint: true }).mtimeNs}`;
    }
  };
  walk(dir, '');
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

/** Seed `remote:bucket/prefix` with a local tree (rclone copy, the same for both buckets). */
async function seed(bucket: string, prefix: string, files: Record<string, string>, mtime = 1_500_000_000): Promise<void> {
  const dir = local('seed', bucket, prefix);
  makeTree(dir, files, mtime);
  const r = await rclone(['copy', dir, `moto:${bucket}/${prefix}`]);
  assert.equal(r.code, 0, r.stderr);
}

const SRC_FILES = { 'a.txt': 'alpha\n', 'same.txt': 'same\n', 'sub/b.txt': 'bravo\n', 'sub/deep/c.txt': 'charlie\n' };
const DST_FILES = { 'same.txt': 'same\n', 'sub/b.txt': 'old bravo, longer\n', 'extra.txt': 'only at the destination\n', 'old/deep/x.txt': 'x\n' };

test('sync local → remote: the same changes as rclone sync, the same log lines, a second sync transfers nothing', async () => {
  const src = local('l2r', 'src');
  makeTree(src, SRC_FILES, 1_600_000_000, ['empty']);
  // same.txt at the destination: same size, same time → unchanged
  for (const b of [R, BF]) await seed(b, 'l2r', DST_FILES, 1_600_000_000);

  // --dry-run first: the same NOTICE lines, and not one write request
  const dryR = await rclone(['sync', '--dry-run', src, `moto:${R}/l2r`]);
  c.s3.clearRequests();
  const dryB = await cli(c, ['sync', '--dry-run', src, `moto:${BF}/l2r`]);
  assert.equal(writes(c.s3), 0, JSON.stringify(c.s3.counts()));
  assert.equal(dryB.code, dryR.code);
  assert.deepEqual(sorted(normal(dryB.stderr, [BF])), sorted(normal(dryR.stderr, [R])));
  assert.ok(dryB.stderr.includes('NOTICE: extra.txt: Skipped delete as --dry-run is set (size 24)'), dryB.stderr);
  assert.ok(dryB.stderr.includes('NOTICE: a.txt: Skipped copy as --dry-run is set (size 6)'), dryB.stderr);

  const r = await rclone(['sync', '-v', src, `moto:${R}/l2r`]);
  const b = await cli(c, ['sync', '-v', src, `moto:${BF}/l2r`]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(b.code, 0, b.stderr);
  assert.deepEqual(await remoteTree(`moto:${BF}/l2r`), await remoteTree(`moto:${R}/l2r`));
  assert.deepEqual(Object.keys(await remoteTree(`moto:${BF}/l2r`)).sort(), Object.keys(SRC_FILES).sort());
  const lines = normal(b.stderr, [BF]);
  assert.deepEqual(sorted(lines), sorted(normal(r.stderr, [R])));
  // the stats block, line by line as rclone prints it
  assert.deepEqual(lines.slice(-5), [
    'INFO  : ',
    'Transferred:   \t         20 B / 20 B, 100%, <RATE>, ETA -',
    'Checks:                 4 / 4, 100%',
    'Deleted:                2 (files), 0 (dirs)',
    'Transferred:            3 / 3, 100%',
  ]);
  // --delete-after (the default): every delete after every copy
  const firstDelete = lines.findIndex((l) => l.endsWith(': Deleted'));
  const lastCopy = lines.findLastIndex((l) => l.includes(': Copied'));
  assert.ok(lastCopy < firstDelete, lines.join('\n'));

  // nothing changed: no write at all, and the same "nothing to transfer" as rclone
  c.s3.clearRequests();
  const again = await cli(c, ['sync', '-v', src, `moto:${BF}/l2r`]);
  assert.equal(writes(c.s3), 0, JSON.stringify(c.s3.counts()));
  const againR = await rclone(['sync', '-v', src, `moto:${R}/l2r`]);
  assert.deepEqual(normal(again.stderr, [BF]), normal(againR.stderr, [R]));
});

test('sync remote → local and remote → remote (server-side): the same trees as rclone, empty directories removed as rclone removes them', async () => {
  for (const b of [R, BF]) await seed(b, 'r2x', SRC_FILES, 1_550_000_000);
  const dsts = [local('r2l', 'rclone'), local('r2l', 'bucketfs')];
  for (const d of dsts) makeTree(d, DST_FILES, 1_550_000_000, ['keep-not']);
  const r = await rclone(['sync', '-v', `moto:${R}/r2x`, dsts[0]!]);
  const b = await cli(c, ['sync', '-v', `moto:${BF}/r2x`, dsts[1]!]);
  assert.equal(b.code, r.code, b.stderr);
  assert.deepEqual(localTree(dsts[1]!), localTree(dsts[0]!));
  assert.ok(!existsSync(path.join(dsts[1]!, 'old')), 'the emptied directory old/ is removed');
  assert.deepEqual(sorted(normal(b.stderr, [BF, dsts[1]!])), sorted(normal(r.stderr, [R, dsts[0]!])));

  for (const b2 of [R, BF]) await seed(b2, 'r2r-dst', DST_FILES);
  c.s3.clearRequests();
  const rr = await rclone(['sync', '-v', `moto:${R}/r2x`, `moto:${R}/r2r-dst`]);
  const counts = { ...c.s3.counts() };
  c.s3.clearRequests();
  const br = await cli(c, ['sync', '-v', `moto:${BF}/r2x`, `moto:${BF}/r2r-dst`]);
  assert.equal(br.code, 0, br.stderr);
  assert.equal(rr.code, 0, rr.stderr);
  assert.equal(c.s3.counts().PUT ?? 0, 0, 'server-side: no upload');
  assert.equal(c.s3.counts().GET ?? 0, 0, 'server-side: no download');
  assert.equal(c.s3.counts().COPY, counts.COPY, 'as many server-side copies as rclone');
  assert.deepEqual(await remoteTree(`moto:${BF}/r2r-dst`), await remoteTree(`moto:${R}/r2r-dst`));
  assert.deepEqual(sorted(normal(br.stderr, [BF])), sorted(normal(rr.stderr, [R])));
});

test('--max-delete stops as rclone does (fatal, exit 7); --delete-before deletes first; bad flags and paths are one line', async () => {
  const src = local('modes', 'src');
  makeTree(src, { 'new.txt': 'new\n', 'keep.txt': 'keep\n' });
  for (const b of [R, BF]) await seed(b, 'modes', { 'keep.txt': 'keep\n', 'x1.txt': '1', 'x2.txt': '22' }, 1_600_000_000);

  // --max-delete 0: the first delete is refused, fatally (exit 7), and nothing is deleted
  const r0 = await rclone(['sync', '-v', '--max-delete', '0', src, `moto:${R}/modes`]);
  const b0 = await cli(c, ['sync', '-v', '--max-delete', '0', src, `moto:${BF}/modes`]);
  assert.equal(r0.code, 7, r0.stderr);
  assert.equal(b0.code, 7, b0.stderr);
  for (const out of [r0.stderr, b0.stderr]) assert.match(out, /ERROR : Got fatal error on delete: --max-delete threshold reached/);
  assert.match(b0.stderr, /^Errors: +1 \(fatal error encountered\)$/m);
  assert.match(b0.stderr, /^bucketfs: Failed to sync: --max-delete threshold reached$/m);
  assert.deepEqual(await remoteTree(`moto:${BF}/modes`), await remoteTree(`moto:${R}/modes`));
  assert.deepEqual(Object.keys(await remoteTree(`moto:${BF}/modes`)).sort(), ['keep.txt', 'new.txt', 'x1.txt', 'x2.txt']);
  // --max-delete 1: one of the two goes (which one depends on the order the deletes ran in), exit 7
  const r1 = await rclone(['sync', '--max-delete', '1', src, `moto:${R}/modes`]);
  const b1 = await cli(c, ['sync', '--max-delete', '1', src, `moto:${BF}/modes`]);
  assert.equal(b1.code, r1.code);
  for (const b of [R, BF]) assert.equal(Object.keys(await remoteTree(`moto:${b}/modes`)).filter((k) => k.startsWith('x')).length, 1, b);

  // new.txt went up with the first run (its transfers ran before the deletes): one more file
  writeFileSync(path.join(src, 'later.txt'), 'later\n');
  const r = await rclone(['sync', '-v', '--delete-before', src, `moto:${R}/modes`]);
  const b = await cli(c, ['sync', '-v', '--delete-before', src, `moto:${BF}/modes`]);
  assert.equal(b.code, 0, b.stderr);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(await remoteTree(`moto:${BF}/modes`), await remoteTree(`moto:${R}/modes`));
  const lines = normal(b.stderr, [BF]);
  assert.ok(
    lines.findLastIndex((l) => l.endsWith(': Deleted')) < lines.findIndex((l) => l.includes(': Copied')),
    `deletes before copies:\n${lines.join('\n')}`,
  );

  const bad = await fails(c, ['sync', '--delete-before', '--delete-after', src, `moto:${BF}/modes`], { code: 1, match: /Only one of --delete-before/ });
  const badR = await rclone(['sync', '--delete-before', '--delete-after', src, `moto:${R}/modes`]);
  assert.equal(bad.code, badR.code);
  await fails(c, ['sync', '--max-delete', 'lots', src, `moto:${BF}/modes`], { code: 1 });
  const overlap = await fails(c, ['sync', `moto:${BF}/modes`, `moto:${BF}/modes/inner`], { code: 1, match: /overlapping/ });
  assert.equal(overlap.stdout, '');
  const missing = await fails(c, ['sync', local('no-such-dir'), `moto:${BF}/modes`], { code: 3 });
  const missingR = await rclone(['sync', local('no-such-dir'), `moto:${R}/modes`]);
  assert.equal(missing.code, missingR.code);
  await fails(c, ['sync', `moto:${BF}/no-such-prefix`, `moto:${BF}/modes`], { code: 3 });
  assert.ok('keep.txt' in (await remoteTree(`moto:${BF}/modes`)), 'a missing source deletes nothing');
});

test('a failed transfer: nothing is deleted ("not deleting files as there were IO errors"), the same exit code as rclone', async () => {
  const src = local('fail', 'src');
  makeTree(src, { 'bad.txt': 'refused\n', 'good.txt': 'fine\n' });
  for (const b of [R, BF]) await seed(b, 'fail', { 'extra.txt': 'stays\n' });
  const refuse = (q: { type: string; path: string }) =>
    q.type === 'PUT' && q.path.endsWith('/fail/bad.txt') ? { status: 403, code: 'AccessDenied' } : undefined;
  const [r, b] = await c.s3.withFault(refuse, async () => [
    await rclone(['sync', '-v', src, `moto:${R}/fail`]),
    await cli(c, ['sync', '-v', src, `moto:${BF}/fail`]),
  ]);
  assert.notEqual(r.code, 0);
  assert.equal(b.code, r.code, `${b.stderr}\n---\n${r.stderr}`);
  for (const out of [r.stderr, b.stderr]) {
    assert.match(out, /ERROR : bad\.txt: Failed to copy: /);
    assert.match(out, /ERROR : S3 bucket sync-\w+ path fail: not deleting files as there were IO errors/);
    assert.match(out, /ERROR : S3 bucket sync-\w+ path fail: not deleting directories as there were IO errors/);
  }
  assert.match(b.stderr, /^Errors: +1 \(retrying may help\)$/m);
  assert.match(b.stderr, /^bucketfs: Failed to sync: .*AccessDenied|^bucketfs: Failed to sync: .*denied/im);
  assert.deepEqual(await remoteTree(`moto:${BF}/fail`), await remoteTree(`moto:${R}/fail`));
  assert.ok('extra.txt' in (await remoteTree(`moto:${BF}/fail`)));
});

test('--size-only, --checksum, --update, --ignore-existing: the same files copied as rclone', async () => {
  const src = local('cmp', 'src');
  // new: not there; older: dst older, same size, other content; newer: dst newer, other size;
  // samesize: same size, other content, same time; touched: same content, other time
  const files = { 'new.txt': 'n', 'older.txt': 'AAAA', 'newer.txt': 'BBBB', 'samesize.txt': 'CCCC', 'touched.txt': 'DDDD' };
  makeTree(src, files, 1_600_000_000);
  utimesSync(path.join(src, 'touched.txt'), 1_600_000_100, 1_600_000_100);
  // --update --use-server-modtime (the reference's way to sync without a HEAD per object): the
  // objects' LastModified (their upload, just now) is newer than every source file
  for (const flags of [['--size-only'], ['--checksum'], ['--update'], ['--ignore-existing'], [], ['--update', '--use-server-modtime']]) {
    const flag = flags.join(' ');
    const prefix = `cmp${flag.replace(/[- ]/g, '')}`;
    for (const bucket of [R, BF]) {
      const dir = local('seed', bucket, prefix);
      makeTree(dir, { 'older.txt': 'aaaa', 'newer.txt': 'bbbbbb', 'samesize.txt': 'cccc', 'touched.txt': 'DDDD' }, 1_600_000_000);
      utimesSync(path.join(dir, 'older.txt'), 1_500_000_000, 1_500_000_000);
      utimesSync(path.join(dir, 'newer.txt'), 1_700_000_000, 1_700_000_000);
      const s = await rclone(['copy', dir, `moto:${bucket}/${prefix}`]);
      assert.equal(s.code, 0, s.stderr);
    }
    const args = (bucket: string) => ['sync', '-v', ...flags, src, `moto:${bucket}/${prefix}`];
    const r = await rclone(args(R));
    c.s3.clearRequests();
    const b = await cli(c, args(BF));
    if (flags.includes('--use-server-modtime')) assert.equal(c.s3.requests.filter((q) => q.type === 'HEAD').length, 0, 'no HEAD: the listing says all');
    assert.equal(b.code, 0, `${flag}: ${b.stderr}`);
    assert.equal(r.code, 0, `${flag}: ${r.stderr}`);
    const acted = (s: string) => sorted(normal(s, []).filter((l) => /: (Copied|Updated modification time)/.test(l)));
    assert.deepEqual(acted(b.stderr), acted(r.stderr), `${flag || 'default'}: what was copied`);
    assert.deepEqual(await remoteTree(`moto:${BF}/${prefix}`), await remoteTree(`moto:${R}/${prefix}`), `${flag || 'default'}: the result`);
  }
});

test("a download is checked against the object's MD5 (rclone's post copy check): a wrong one fails as in rclone; --ignore-checksum takes it", async () => {
  // a multipart object whose stored MD5 (X-Amz-Meta-Md5chksum, what both tools read for one) is wrong
  const key = 'badsum/obj.bin';
  const body = Buffer.alloc(1000, 'z');
  const wrong = createHash('md5').update('something else').digest('base64');
  await c.s3.withDirectClient(async (s3) => {
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: R, Key: key, Metadata: { md5chksum: wrong } }));
    const { ETag } = await s3.send(new UploadPartCommand({ Bucket: R, Key: key, UploadId, PartNumber: 1, Body: body }));
    await s3.send(new CompleteMultipartUploadCommand({ Bucket: R, Key: key, UploadId, MultipartUpload: { Parts: [{ ETag, PartNumber: 1 }] } }));
  });
  for (const extra of [[], ['--ignore-checksum']]) {
    const [ours, theirs] = [local('badsum', 'ours', ...extra), local('badsum', 'theirs', ...extra)];
    const r = await rclone(['copy', ...extra, `moto:${R}/badsum`, theirs]);
    const b = await cli(c, ['copy', ...extra, `moto:${R}/badsum`, ours]);
    assert.equal(b.code, r.code, `${extra.join(' ')}: exit code (rclone ${r.code}): ${b.stderr}`);
    assert.deepEqual(localTree(ours), localTree(theirs), `${extra.join(' ') || 'checked'}: the same files`);
    if (extra.length === 0) {
      assert.notEqual(r.code, 0);
      const line = (s: string) =>
        s
          .split('\n')
          .find((l) => l.includes('corrupted on transfer'))
          ?.replace(/^.*?ERROR : /, '');
      assert.equal(line(b.stderr), line(r.stderr), 'the same error line');
    } else assert.equal(readFileSync(path.join(ours, 'obj.bin')).length, 1000);
  }
});

test('move and moveto: local → remote with --delete-empty-src-dirs, remote → remote server-side, -i answered per file', async () => {
  const srcs = [local('mv', 'rclone'), local('mv', 'bucketfs')];
  for (const s of srcs) makeTree(s, { 'one.txt': '1\n', 'x/y/two.txt': '22\n' }, 1_600_000_000, ['empty/inner']);
  const r = await rclone(['move', '-v', '--delete-empty-src-dirs', srcs[0]!, `moto:${R}/mv`]);
  const b = await cli(c, ['move', '-v', '--delete-empty-src-dirs', srcs[1]!, `moto:${BF}/mv`]);
  assert.equal(b.code, 0, b.stderr);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(localTree(srcs[1]!), localTree(srcs[0]!), 'what is left of the source');
  assert.deepEqual(localTree(srcs[1]!), {});
  assert.deepEqual(await remoteTree(`moto:${BF}/mv`), await remoteTree(`moto:${R}/mv`));
  assert.deepEqual(sorted(normal(b.stderr, [BF, srcs[1]!])), sorted(normal(r.stderr, [R, srcs[0]!])));

  // without --delete-empty-src-dirs the directories stay
  for (const s of srcs) makeTree(s, { 'x/y/two.txt': '22\n' });
  await rclone(['move', srcs[0]!, `moto:${R}/mv2`]);
  await cli(c, ['move', srcs[1]!, `moto:${BF}/mv2`]);
  assert.deepEqual(localTree(srcs[1]!), localTree(srcs[0]!));
  assert.deepEqual(localTree(srcs[1]!), { 'x/': 'dir', 'x/y/': 'dir' });

  // dry run: rclone's "Skipped move" lines, nothing written
  const dryR = await rclone(['move', '--dry-run', `moto:${R}/mv`, `moto:${R}/mv3`]);
  c.s3.clearRequests();
  const dryB = await cli(c, ['move', '--dry-run', `moto:${BF}/mv`, `moto:${BF}/mv3`]);
  assert.equal(writes(c.s3), 0);
  assert.deepEqual(sorted(normal(dryB.stderr, [BF])), sorted(normal(dryR.stderr, [R])));

  // moveto within one remote: a server-side copy and a delete, no data through the client
  c.s3.clearRequests();
  const mt = await cli(c, ['moveto', '-v', `moto:${BF}/mv/one.txt`, `moto:${BF}/moved/renamed.txt`]);
  assert.equal(mt.code, 0, mt.stderr);
  const counts = c.s3.counts();
  assert.equal(counts.COPY, 1, JSON.stringify(counts));
  assert.equal(counts.DEL, 1, JSON.stringify(counts));
  assert.equal(counts.PUT ?? 0, 0);
  assert.equal(counts.GET ?? 0, 0);
  await rclone(['moveto', `moto:${R}/mv/one.txt`, `moto:${R}/moved/renamed.txt`]);
  for (const p of ['mv', 'moved']) assert.deepEqual(await remoteTree(`moto:${BF}/${p}`), await remoteTree(`moto:${R}/${p}`));

  // -i: y for the first question, n for the second (sorted order of the one transfer at a time)
  await cli(c, ['copy', `moto:${BF}/mv`, `moto:${BF}/ask`]);
  const before = await remoteTree(`moto:${BF}/ask`);
  assert.equal(Object.keys(before).length, 1);
  makeTree(srcs[1]!, { 'p.txt': 'p\n', 'q.txt': 'q\n' });
  const asked = await cli(c, ['move', '-i', '--transfers', '1', srcs[1]!, `moto:${BF}/ask`], { input: 'y\nn\n' });
  assert.equal(asked.code, 0, asked.stderr);
  assert.match(asked.stderr, /move "p\.txt" \(size 2\)\?/);
  assert.match(asked.stderr, /move "q\.txt" \(size 2\)\?/);
  assert.deepEqual(Object.keys(localTree(srcs[1]!)), ['q.txt'], 'only the confirmed file moved');
  assert.ok('p.txt' in (await remoteTree(`moto:${BF}/ask`)));
  assert.ok(!('q.txt' in (await remoteTree(`moto:${BF}/ask`))));

  await fails(c, ['moveto', local('nothing-here.txt'), `moto:${BF}/x.txt`], { code: 4 });
  await fails(c, ['move', `moto:${BF}/mv`, `moto:${BF}/mv/sub`], { code: 1, match: /overlapping/ });
});
