// lsjson, md5sum/sha1sum/hashsum and check against rclone 1.60 as the oracle: both tools run on
// the same moto bucket through the same env-only remote, and their stdout (and, for check, the
// log lines) must be the same bytes. What is normalized, and why:
// - lsjson: the ModTime of directories, which rclone stamps with the moment of the listing;
// - md5sum and friends: the order of lines (rclone prints each as its parallel checkers finish);
// - check: the log timestamps, the order of the per-file ERROR lines (rclone's checkers again;
//   the NOTICE summary keeps its order) and the final line, which is each tool's own
//   ("Failed to check: …" / "bucketfs: …").
import { obscure } from '../../src/config/obscure.js';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { boto3, run, type RunResult } from '../helpers/run.js';
import { startCli, cli, fails, ok, TEST_SECRET_KEY, type CliEnv } from './cli-support.js';

let c: CliEnv;
const B = 'lsjson-bucket';

before(async () => {
  const v = await run('rclone', ['version']).catch((err: Error) => ({ code: -1, stdout: '', stderr: err.message }) as RunResult);
  assert.equal(v.code, 0, `rclone is needed for this test (Debian package rclone; scripts/setup installs it): ${v.stderr}`);
  c = await startCli();
  await c.s3.createBucket(B);
  await boto3(
    c.s3.directEndpoint,
    [
      `s3.put_object(Bucket="${B}", Key="j/top.txt", Body=b"hello\\n", ContentType="text/plain; charset=utf-8", Metadata={"mtime": "1600000000.123456789"})`,
      `s3.put_object(Bucket="${B}", Key="j/plain.bin", Body=b"plain")`,
      `s3.put_object(Bucket="${B}", Key="j/a<b&c>.txt", Body=b"x")`,
      `s3.put_object(Bucket="${B}", Key="j/marker/", Body=b"")`,
      `s3.put_object(Bucket="${B}", Key="j/marker/in.txt", Body=b"in", Metadata={"mtime": "1500000000"})`,
      `s3.put_object(Bucket="${B}", Key="j/empty/", Body=b"")`,
      `s3.put_object(Bucket="${B}", Key="j/d/sub/deep.json", Body=b"{}", ContentType="application/json")`,
      `s3.put_object(Bucket="${B}", Key="j/rich.html", Body=b"<p>", ContentType="text/html", CacheControl="no-cache", ContentDisposition="inline", ContentEncoding="identity", ContentLanguage="en", Metadata={"mtime": "1600000000.5", "owner": "me", "md5chksum": "x"}, StorageClass="STANDARD_IA")`,
      `s3.put_object(Bucket="${B}", Key="g/gl.bin", Body=b"g", StorageClass="GLACIER")`,
      // a multipart upload without X-Amz-Meta-Md5chksum: no MD5 anywhere
      `u = s3.create_multipart_upload(Bucket="${B}", Key="j/mp.bin")`,
      `p = s3.upload_part(Bucket="${B}", Key="j/mp.bin", UploadId=u["UploadId"], PartNumber=1, Body=b"z" * 10)`,
      `s3.complete_multipart_upload(Bucket="${B}", Key="j/mp.bin", UploadId=u["UploadId"], MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": p["ETag"]}]})`,
    ].join('\n'),
  );
});
after(async () => {
  await c?.s3.stop();
  if (c) rmSync(c.dir, { recursive: true, force: true });
});

async function rclone(args: string[], opts: { cwd?: string } = {}): Promise<RunResult> {
  const r = await run('rclone', args, { env: c.env, cwd: opts.cwd });
  assert.ok(!(r.stdout + r.stderr).includes(TEST_SECRET_KEY), `the secret appeared in the output of rclone ${args.join(' ')}`);
  return r;
}

/** Both tools with the same arguments: the same exit code, stdout through `norm` the same bytes. */
async function same(args: string[], norm: (s: string) => string = (s) => s, opts: { cwd?: string } = {}): Promise<RunResult> {
  const r = await rclone(args, opts);
  const b = await cli(c, args, opts);
  assert.equal(b.code, r.code, `exit code of ${args.join(' ')}: rclone ${r.code} (${r.stderr.trim()}), bucketfs ${b.code} (${b.stderr.trim()})`);
  assert.equal(norm(b.stdoutBytes.toString('latin1')), norm(r.stdoutBytes.toString('latin1')), `stdout of ${args.join(' ')}`);
  return b;
}

/** Directories are stamped with the time of the listing by rclone: that value only is replaced. */
const dirTimes = (s: string) => s.replace(/"ModTime":"[^"]*","IsDir":true/g, '"ModTime":"T","IsDir":true');
const sorted = (s: string) => s.split('\n').sort().join('\n');

test('lsjson: one level, -R, --hash, -M, --dirs-only/--files-only, --no-modtime, --no-mimetype: the same bytes as rclone', async () => {
  const cases = [
    [],
    ['-R'],
    ['--hash'],
    ['-R', '--hash', '-M'],
    ['-M', '--no-modtime'],
    ['--no-mimetype'],
    ['--no-modtime', '--no-mimetype', '--hash'],
    ['--dirs-only'],
    ['-R', '--dirs-only'],
    ['-R', '--files-only', '--original'],
  ];
  for (const flags of cases) await same(['lsjson', ...flags, `moto:${B}/j`], dirTimes);
  // one object named, an empty prefix, a subdirectory
  await same(['lsjson', '-M', '--hash', `moto:${B}/j/rich.html`]);
  await same(['lsjson', `moto:${B}/j/nothing`]);
  // an archived object: its Tier, and tier in its metadata (apart: it cannot be downloaded)
  await same(['lsjson', '-M', '--hash', `moto:${B}/g`]);
  await same(['lsjson', 'moto:'], dirTimes);
  await same(['lsjson', '-R', `moto:${B}/j/d`], dirTimes);
  // the implied directories of -R share one time, as rclone's
  const out = (await cli(c, ['lsjson', '-R', `moto:${B}/j`])).stdout;
  const times = new Set([...out.matchAll(/"ModTime":"([^"]*)","IsDir":true/g)].map((m) => m[1]));
  assert.equal(times.size, 1);
  assert.match([...times][0]!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
});

test('lsjson: a missing bucket fails after the opening bracket, exit 3, as rclone', async () => {
  const r = await same(['lsjson', 'moto:no-such-bucket']);
  assert.equal(r.stdout, '[\n');
  assert.equal(r.stderr.trim().split('\n').length, 1);
  await fails(c, ['lsjson', '--encrypted', `moto:${B}/j`], { code: 1, match: /crypt/ });
});

test('md5sum, sha1sum, hashsum: hashes, blanks without an MD5, --download, --base64, local paths', async () => {
  const dir = path.join(c.dir, 'hash-local');
  mkdirSync(path.join(dir, 'sub'), { recursive: true });
  writeFileSync(path.join(dir, 'one.txt'), 'one\n');
  writeFileSync(path.join(dir, 'sub', 'two.txt'), 'two\n');
  const remote = `moto:${B}/j`;
  for (const args of [
    ['md5sum', remote],
    ['md5sum', '--base64', remote],
    ['md5sum', '--download', remote],
    ['md5sum', '--download', '--base64', remote],
    ['sha1sum', '--download', remote],
    ['hashsum', 'SHA-1', '--download', remote],
    ['hashsum', 'MD5', remote],
    ['md5sum', `${remote}/top.txt`],
    ['sha1sum', dir],
    ['md5sum', path.join(dir, 'one.txt')],
    ['md5sum', `moto:${B}/j/nothing`],
    ['md5sum', 'moto:no-such-bucket'],
  ])
    await same(args, sorted);
  // S3 keeps no SHA-1: nothing on stdout, one ERROR per object, exit 1 (as rclone)
  const r = await same(['sha1sum', remote], sorted);
  assert.equal(r.stdout, '');
  const errs = r.stderr.split('\n').filter((l) => / ERROR : .*: hash unsupported: hash type not supported$/.test(l));
  assert.equal(errs.length, 7);
  await fails(c, ['hashsum', 'foo', remote], { code: 1, match: /unknown hash type "foo"/ });
});

/** check's log as both tools write it: timestamps dropped, ERROR lines sorted, the final line left out. */
function checkLog(stderr: string, tool: 'rclone' | 'bucketfs'): string[] {
  const lines = stderr
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('bucketfs: ') && !/^\S+ \S+ Failed to check/.test(l))
    .map((l) => l.replace(/^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d /, ''));
  assert.ok(
    lines.every((l) => /^(ERROR :|NOTICE:) /.test(l)),
    `${tool}: unexpected log lines:\n${stderr}`,
  );
  return [...lines.filter((l) => l.startsWith('ERROR')).sort(), ...lines.filter((l) => l.startsWith('NOTICE'))];
}

test('check: local↔remote and remote↔remote, --one-way, --size-only, --download: the same log and exit code as rclone', async () => {
  const dir = path.join(c.dir, 'check-src');
  mkdirSync(path.join(dir, 'd'), { recursive: true });
  const files: Record<string, string> = { 'same.txt': 'same\n', 'diff.txt': 'diff1\n', 'onlyl.txt': 'gone\n', 'd/sz.txt': 'sz\n' };
  for (const [f, body] of Object.entries(files)) writeFileSync(path.join(dir, f), body);
  assert.equal((await rclone(['copy', dir, `moto:${B}/c`])).code, 0);
  assert.equal((await rclone(['copy', dir, `moto:${B}/c2`])).code, 0);
  // then the two sides drift apart: same size other bytes, another size, one file each side only
  writeFileSync(path.join(dir, 'diff.txt'), 'diff2\n');
  writeFileSync(path.join(dir, 'd/sz.txt'), 'sz22\n');
  rmSync(path.join(dir, 'onlyl.txt'));
  writeFileSync(path.join(dir, 'new.txt'), 'new\n');
  utimesSync(path.join(dir, 'new.txt'), 1e9, 1e9);
  await c.s3.putObject(B, 'c/onlyremote.txt', 'r\n');

  const cases: { args: string[]; cwd?: string }[] = [
    { args: [dir, `moto:${B}/c`] },
    { args: [dir, `moto:${B}/c`, '--one-way'] },
    { args: [dir, `moto:${B}/c`, '--size-only'] },
    { args: [dir, `moto:${B}/c`, '--download'] },
    { args: [`moto:${B}/c`, dir] },
    { args: ['check-src', `moto:${B}/c`], cwd: c.dir }, // a relative local path is named absolute
    { args: [`moto:${B}/c`, `moto:${B}/c2`] },
    { args: [`moto:${B}/c2`, `moto:${B}/c2`] },
    // an object without any MD5: matching, and a hash that could not be checked
    { args: [`moto:${B}/j`, `moto:${B}/j`] },
  ];
  for (const { args, cwd } of cases) {
    const full = ['check', ...args];
    const r = await rclone(full, { cwd });
    const b = await cli(c, full, { cwd });
    assert.equal(b.code, r.code, `exit code of ${full.join(' ')}: rclone ${r.code}, bucketfs ${b.code} (${b.stderr})`);
    assert.deepEqual(checkLog(b.stderr, 'bucketfs'), checkLog(r.stderr, 'rclone'), full.join(' '));
    assert.equal(b.stdout, '');
    if (b.code !== 0) assert.match(b.stderr.trimEnd().split('\n').at(-1)!, /^bucketfs: \d+ differences found$/);
  }
  const noHash = checkLog((await cli(c, ['check', `moto:${B}/j`, `moto:${B}/j`])).stderr, 'bucketfs');
  assert.ok(noHash.includes(`NOTICE: S3 bucket ${B} path j: 1 hashes could not be checked`), noHash.join('\n'));
  await fails(c, ['check', 'moto:', `moto:${B}/c`], { code: 1, match: /names no bucket/ });
});

test('obscure and reveal: what bucketfs obscures rclone reveals and the other way round (argument and "-" for a line of stdin); a string that is not obscured fails as in rclone', async () => {
  // "--" ends the flags in both tools, so an obscured string may start with "-" (one in 64
  // does): every call passes it after "--"; a password starting with "-" is obscured the same way
  const obscuredBy = async (tool: 'rclone' | 'bucketfs', pw: string): Promise<string> =>
    tool === 'rclone' ? (await rclone(['obscure', '--', pw])).stdout.trim() : (await ok(c, ['obscure', '--', pw])).trim();
  for (const pw of ['hunter2', 'with spaces and ünïcode', 'x'.repeat(100)]) {
    const ours = await obscuredBy('bucketfs', pw);
    assert.notEqual(ours, pw);
    assert.equal((await rclone(['reveal', '--', ours])).stdout, `${pw}\n`, `rclone reveals ours of ${JSON.stringify(pw)}`);
    const theirs = await obscuredBy('rclone', pw);
    assert.equal(await ok(c, ['reveal', '--', theirs]), `${pw}\n`, `we reveal rclone's of ${JSON.stringify(pw)}`);
  }
  // a string that starts with "-" (one in 64 does), given after "--": both tools reveal it
  let dashed = '';
  while (!dashed.startsWith('-')) dashed = obscure('-starts-with-a-dash');
  assert.equal((await rclone(['reveal', '--', dashed])).stdout, '-starts-with-a-dash\n');
  assert.equal(await ok(c, ['reveal', '--', dashed]), '-starts-with-a-dash\n');
  const piped = (await ok(c, ['obscure', '-'], { input: 'from stdin\nnot this\n' })).trim();
  assert.equal((await rclone(['reveal', '--', piped])).stdout, 'from stdin\n');
  assert.notEqual((await ok(c, ['obscure', 'same'])).trim(), (await ok(c, ['obscure', 'same'])).trim(), 'a new IV each time, as rclone');
  for (const bad of ['not!base64', 'abc']) {
    const r = await rclone(['reveal', bad]);
    const b = await fails(c, ['reveal', bad], { code: r.code ?? undefined });
    assert.equal(b.stderr.trim().replace(/^bucketfs: /, ''), r.stderr.trim().replace(/^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d /, ''));
  }
});
