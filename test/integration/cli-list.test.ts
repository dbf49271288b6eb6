// Listing and reading commands through the real CLI process against moto: rclone's output
// formats for ls, lsl, lsd, lsf, size and cat, and interoperability with objects written by
// another client (boto3, storing X-Amz-Meta-Mtime as rclone does).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { boto3 } from '../helpers/run.js';
import { startCli, cli, ok, fails, type CliEnv } from './cli-support.js';

let c: CliEnv;
const B = 'list-bucket';
const big = Buffer.alloc(70_000, 7);

before(async () => {
  c = await startCli();
  await c.s3.createBucket(B);
  await c.s3.createBucket('other-bucket');
  // Written by boto3, with rclone's metadata where a test needs it.
  await boto3(
    c.s3.directEndpoint,
    [
      `s3.put_object(Bucket="${B}", Key="top.txt", Body=b"hello\\n", Metadata={"mtime": "1600000000.123456789"})`,
      `s3.put_object(Bucket="${B}", Key="dir/a.txt", Body=b"aaa", Metadata={"mtime": "1500000000.5"})`,
      `s3.put_object(Bucket="${B}", Key="dir/sub/b.bin", Body=bytes(range(256)) * 4)`,
      `s3.put_object(Bucket="${B}", Key="marked/", Body=b"")`,
      `s3.put_object(Bucket="${B}", Key="zz.bin", Body=b"\\x07" * ${big.length}, Metadata={"mtime": "1700000000"})`,
    ].join('\n'),
  );
});
after(async () => {
  await c?.s3.stop();
  if (c) rmSync(c.dir, { recursive: true, force: true });
});

test('ls: size in 9 columns, path relative to the argument, recursive', async () => {
  const out = await ok(c, ['ls', `moto:${B}`]);
  assert.deepEqual(out.split('\n'), ['        3 dir/a.txt', '     1024 dir/sub/b.bin', '        6 top.txt', `    ${big.length} zz.bin`, '']);
  assert.equal(await ok(c, ['ls', `moto:${B}/dir`]), '        3 a.txt\n     1024 sub/b.bin\n');
  // A path naming one object lists that object, as rclone does.
  assert.equal(await ok(c, ['ls', `moto:${B}/dir/a.txt`]), '        3 a.txt\n');
  // A directory with nothing in it is not an error on a bucket-based remote.
  assert.equal(await ok(c, ['ls', `moto:${B}/nothing-here`]), '');
});

test('lsl: mtime from X-Amz-Meta-Mtime to the nanosecond (boto3-written), else LastModified', async () => {
  c.s3.clearRequests();
  const out = await ok(c, ['lsl', `moto:${B}`]);
  const lines = out.trimEnd().split('\n');
  assert.equal(lines.length, 4);
  assert.equal(lines[0], '        3 2017-07-14 02:40:00.500000000 dir/a.txt');
  assert.match(lines[1]!, /^ {5}1024 \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.000000000 dir\/sub\/b\.bin$/);
  assert.equal(lines[2], '        6 2020-09-13 12:26:40.123456789 top.txt');
  assert.equal(lines[3], `    ${big.length} 2023-11-14 22:13:20.000000000 zz.bin`);
  // One HEAD per object for the metadata, one LIST.
  assert.deepEqual(c.s3.counts(), { LIST: 1, HEAD: 4 });
});

test('lsl prints local time (TZ)', async () => {
  const out = await ok(c, ['lsl', `moto:${B}/top.txt`], { env: { ...c.env, TZ: 'Asia/Tokyo' } });
  assert.equal(out, '        6 2020-09-13 21:26:40.123456789 top.txt\n');
});

test('lsd: directories (prefixes and markers); lsd remote: lists buckets', async () => {
  const dirs = await ok(c, ['lsd', `moto:${B}`]);
  const lines = dirs.trimEnd().split('\n');
  assert.equal(lines.length, 2);
  for (const [i, name] of ['dir', 'marked'].entries()) {
    assert.match(lines[i]!, new RegExp(`^ {11}0 \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d {8}-1 ${name}$`));
  }
  const buckets = await ok(c, ['lsd', 'moto:']);
  assert.deepEqual(
    buckets
      .trimEnd()
      .split('\n')
      .map((l) => l.replace(/\d{4}-\d\d-\d\d \d\d:\d\d:\d\d/, 'T')),
    ['          -1 T        -1 list-bucket', '          -1 T        -1 other-bucket'],
  );
  const rec = await ok(c, ['lsd', '-R', `moto:${B}`]);
  assert.deepEqual(
    rec
      .trimEnd()
      .split('\n')
      .map((l) => l.slice(43)),
    ['dir', 'dir/sub', 'marked'],
  );
});

test('lsf: names with dirs/, --format, --separator, -R, --files-only, --csv, hash', async () => {
  assert.equal(await ok(c, ['lsf', `moto:${B}`]), 'dir/\nmarked/\ntop.txt\nzz.bin\n');
  assert.equal(await ok(c, ['lsf', '-R', '--files-only', `moto:${B}`]), 'dir/a.txt\ndir/sub/b.bin\ntop.txt\nzz.bin\n');
  assert.equal(await ok(c, ['lsf', '-R', '--dirs-only', `moto:${B}`]), 'dir/\ndir/sub/\nmarked/\n');
  // rclone 1.60's order for -R (its walk over one recursive LIST): the objects in key order, then the directories, sorted
  assert.equal(await ok(c, ['lsf', '-R', `moto:${B}`]), 'dir/a.txt\ndir/sub/b.bin\ntop.txt\nzz.bin\ndir/\ndir/sub/\nmarked/\n');
  // sizes as rclone 1.60 prints them: a directory is -1 in a recursive listing, 0 in one of one level
  assert.equal(await ok(c, ['lsf', '-R', '--dirs-only', '--format', 'ps', `moto:${B}`]), 'dir/;-1\ndir/sub/;-1\nmarked/;-1\n');
  assert.match(await ok(c, ['lsf', '--format', 'ps', `moto:${B}`]), /^dir\/;0$/m);
  assert.equal(await ok(c, ['lsf', '-F', 'spt', '-s', '|', `moto:${B}/top.txt`]), '6|top.txt|2020-09-13 12:26:40\n');
  assert.equal(await ok(c, ['lsf', '--format', 'ph', `moto:${B}/dir`]), `a.txt;47bce5c74f589f4867dbd57e9ca9f808\nsub/;\n`);
  assert.equal(await ok(c, ['lsf', '-F', 'ps', '--csv', '--absolute', `moto:${B}/dir`]), '/a.txt,3\n/sub/,0\n');
  await fails(c, ['lsf', '-F', 'px', `moto:${B}`], { code: 1, match: /format/ });
});

test("size: rclone's two lines", async () => {
  const total = 3 + 1024 + 6 + big.length;
  assert.equal(await ok(c, ['size', `moto:${B}`]), `Total objects: 4 (4)\nTotal size: 69.368 KiB (${total} Byte)\n`);
  assert.equal(await ok(c, ['size', `moto:${B}/dir/a.txt`]), 'Total objects: 1 (1)\nTotal size: 3 B (3 Byte)\n');
  assert.deepEqual(JSON.parse(await ok(c, ['size', '--json', `moto:${B}/dir`])), { count: 2, bytes: 1027, sizeless: 0, fs: `moto:${B}/dir` });
});

test('cat: whole object, byte ranges with ranged GETs, a directory concatenated, binary-safe', async () => {
  const r = await ok(c, ['cat', `moto:${B}/top.txt`]);
  assert.equal(r, 'hello\n');
  const bin = await cli(c, ['cat', `moto:${B}/dir/sub/b.bin`]);
  assert.deepEqual(bin.stdoutBytes, Buffer.concat(Array.from({ length: 4 }, () => Buffer.from(Array.from({ length: 256 }, (_, i) => i)))));
  c.s3.clearRequests();
  assert.equal(await ok(c, ['cat', '--offset', '1', '--count', '3', `moto:${B}/top.txt`]), 'ell');
  const get = c.s3.requests.find((q) => q.type === 'GET');
  assert.equal(get?.headers.range, 'bytes=1-3');
  assert.equal(await ok(c, ['cat', '--head', '2', `moto:${B}/top.txt`]), 'he');
  assert.equal(await ok(c, ['cat', '--tail', '3', `moto:${B}/top.txt`]), 'lo\n');
  assert.equal(await ok(c, ['cat', '--offset', '-2', `moto:${B}/top.txt`]), 'o\n');
  assert.equal(await ok(c, ['cat', '--count', '0', `moto:${B}/top.txt`]), '');
  // A directory: every object under it, in listing order.
  const dir = await cli(c, ['cat', `moto:${B}/dir`]);
  assert.equal(dir.stdoutBytes.length, 3 + 1024);
  assert.equal(dir.stdoutBytes.subarray(0, 3).toString(), 'aaa');
  await fails(c, ['cat', `moto:${B}/missing.txt`], { code: 4, match: /not found/ });
});
