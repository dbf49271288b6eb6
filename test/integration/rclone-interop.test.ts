// Interoperability with the real rclone binary (Debian's `rclone`, installed by scripts/setup),
// both tools against the same moto server through the same env-only remote `moto:`
// (RCLONE_CONFIG_MOTO_*, which rclone reads as bucketfs does). What one tool writes, the other
// must read the same: nanosecond modification times (X-Amz-Meta-Mtime), MD5s (ETag, or
// X-Amz-Meta-Md5chksum for multipart uploads), hostile names (the same keys on the server, the
// same names listed and written back to disk), touch and mkdir results.
//
// Known rclone 1.60 limits, avoided here rather than worked around: it cannot upload a local name
// containing the quote character '‛' (its local backend quotes it twice), moto cannot store a key
// with a newline. (rclone's HEAD after a multipart upload asks for ?versionId=null, which stock
// moto answers 400; the test server, scripts/moto-server.py, serves it as real S3 does.) A listing with a control character
// in a key first fails XML decoding in rclone, which it retries (aws-sdk-go, --low-level-retries
// times, with backoff: ~45 s) before asking for URL-encoded keys: those listings run with
// --low-level-retries 1. (bucketfs always lists with encoding-type=url.)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { HeadObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { bucketfsBin, run, type RunResult } from '../helpers/run.js';
import { startCli, cli, ok, TEST_SECRET_KEY, type CliEnv } from './cli-support.js';

let c: CliEnv;
const B = 'interop';
const MiB = 1024 * 1024;

before(async () => {
  const v = await run('rclone', ['version']).catch((err: Error) => ({ code: -1, stdout: '', stderr: err.message }) as RunResult);
  assert.equal(v.code, 0, `rclone is needed for this test (Debian package rclone; scripts/setup installs it): ${v.stderr}`);
  c = await startCli();
  await c.s3.createBucket(B);
});
after(async () => {
  await c?.s3.stop();
  if (c) rmSync(c.dir, { recursive: true, force: true });
});

/** Run rclone on the same remote; it must succeed and never print the secret. */
async function rclone(args: string[], opts: { input?: string | Buffer; allowFail?: boolean } = {}): Promise<RunResult> {
  const r = await run('rclone', args, { env: c.env, input: opts.input });
  const all = r.stdoutBytes.toString('latin1') + r.stderr;
  assert.ok(!all.includes(TEST_SECRET_KEY), `the secret appeared in the output of rclone ${args.join(' ')}`);
  if (!opts.allowFail) assert.equal(r.code, 0, `rclone ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r;
}

/** bucketfs's stdout as bytes (latin1: byte-exact), for comparing with rclone's. */
async function bfsBytes(args: string[]): Promise<string> {
  const r = await cli(c, args);
  assert.equal(r.code, 0, `bucketfs ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r.stdoutBytes.toString('latin1');
}

const sortedLines = (s: string) =>
  s
    .split('\n')
    .filter((l) => l !== '')
    .sort();

function local(...parts: string[]): string {
  return path.join(c.dir, ...parts);
}

async function touchLocal(file: string, date: string): Promise<void> {
  const r = await run('touch', ['-d', date, file], { env: { ...process.env, TZ: 'UTC' } });
  assert.equal(r.code, 0, r.stderr);
}

const mtimeNs = (file: string | Buffer) => statSync(file, { bigint: true }).mtimeNs;
const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');

async function serverMeta(key: string): Promise<{ meta: Record<string, string>; etag: string }> {
  const client = c.s3.directClient();
  try {
    const h = await client.send(new HeadObjectCommand({ Bucket: B, Key: key }));
    return { meta: h.Metadata ?? {}, etag: h.ETag ?? '' };
  } finally {
    client.destroy();
  }
}

async function serverKeys(prefix: string): Promise<string[]> {
  const client = c.s3.directClient();
  try {
    const out: string[] = [];
    let token: string | undefined;
    do {
      const r = await client.send(new ListObjectsV2Command({ Bucket: B, Prefix: prefix, ContinuationToken: token }));
      for (const o of r.Contents ?? []) out.push(o.Key!.slice(prefix.length));
      token = r.NextContinuationToken;
    } while (token);
    return out.sort();
  } finally {
    client.destroy();
  }
}

test('mtime: a file rclone uploaded shows its nanosecond mtime in bucketfs lsl and comes back with it', async () => {
  const f = local('ns.txt');
  writeFileSync(f, 'written by rclone\n');
  await touchLocal(f, '2020-01-02 03:04:05.123456789');
  await rclone(['copyto', f, `moto:${B}/mt/r.txt`]);
  assert.equal(await ok(c, ['lsl', `moto:${B}/mt/r.txt`]), '       18 2020-01-02 03:04:05.123456789 r.txt\n');
  const back = local('ns-back-bfs.txt');
  await ok(c, ['copyto', `moto:${B}/mt/r.txt`, back]);
  assert.equal(mtimeNs(back), mtimeNs(f));
  assert.equal(mtimeNs(back), 1577934245123456789n);
  // and bucketfs stores the very same X-Amz-Meta-Mtime for the same file
  await ok(c, ['copyto', f, `moto:${B}/mt/b.txt`]);
  assert.equal((await serverMeta('mt/b.txt')).meta.mtime, (await serverMeta('mt/r.txt')).meta.mtime);
  assert.equal((await serverMeta('mt/r.txt')).meta.mtime, '1577934245.123456789');
});

test('mtime: files bucketfs wrote (copyto, rcat, touch) show the same time in rclone lsl, and come back with it', async () => {
  const f = local('bfs.txt');
  writeFileSync(f, 'written by bucketfs\n');
  await touchLocal(f, '2021-03-04 05:06:07.987654321');
  await ok(c, ['copyto', f, `moto:${B}/mb/copied.txt`]);
  await ok(c, ['rcat', `moto:${B}/mb/rcat.txt`], { input: 'from stdin\n' });
  await ok(c, ['touch', '-t', '2019-05-06T07:08:09.5', `moto:${B}/mb/touched`]);
  const viaRclone = (await rclone(['lsl', `moto:${B}/mb`])).stdout;
  assert.deepEqual(sortedLines(viaRclone), sortedLines(await ok(c, ['lsl', `moto:${B}/mb`])));
  assert.match(viaRclone, /^ {7}20 2021-03-04 05:06:07\.987654321 copied\.txt$/m);
  assert.match(viaRclone, /^ {8}0 2019-05-06 07:08:09\.500000000 touched$/m);
  assert.match(viaRclone, /^ {7}11 \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{9} rcat\.txt$/m);
  const back = local('bfs-back-rclone.txt');
  await rclone(['copyto', `moto:${B}/mb/copied.txt`, back]);
  assert.equal(mtimeNs(back), mtimeNs(f));
});

test('md5: rclone md5sum and rclone check agree with bucketfs uploads, single-part and multipart', async () => {
  const dir = local('hashes');
  mkdirSync(dir, { recursive: true });
  const small = Buffer.from('a small single-part file\n');
  const big = Buffer.alloc(12 * MiB);
  for (let i = 0; i < big.length; i += 4096) big.writeUInt32LE((i * 2654435761) >>> 0, i);
  writeFileSync(path.join(dir, 'small.txt'), small);
  writeFileSync(path.join(dir, 'big.bin'), big);
  // 12 MiB above a 5 MiB cutoff: a multipart upload of 3 parts, which only X-Amz-Meta-Md5chksum can give an MD5
  await ok(c, ['copy', dir, `moto:${B}/h`, '--s3-upload-cutoff', '5M', '--s3-chunk-size', '5M']);
  const bigMeta = await serverMeta('h/big.bin');
  assert.match(bigMeta.etag, /-3"$/, 'a multipart upload');
  assert.equal(bigMeta.meta.md5chksum, createHash('md5').update(big).digest('base64'));
  assert.deepEqual(sortedLines((await rclone(['md5sum', `moto:${B}/h`])).stdout), [`${md5(big)}  big.bin`, `${md5(small)}  small.txt`]);
  const check = await rclone(['check', dir, `moto:${B}/h`]);
  assert.match(check.stderr, /0 differences found/);
  assert.match(check.stderr, /2 matching files/);
  assert.deepEqual(sortedLines((await rclone(['lsf', '-F', 'psh', `moto:${B}/h`])).stdout), sortedLines(await ok(c, ['lsf', '-F', 'psh', `moto:${B}/h`])));

  // a stream of unknown size (rcat) has no MD5 once multipart, for either tool: both print none
  await ok(c, ['rcat', '--s3-chunk-size', '5M', `moto:${B}/h2/streamed.bin`], { input: big });
  assert.equal((await rclone(['md5sum', `moto:${B}/h2`])).stdout, `${' '.repeat(32)}  streamed.bin\n`);
  assert.equal(await ok(c, ['lsf', '-F', 'ph', `moto:${B}/h2`]), 'streamed.bin;\n');

  // the other way: rclone's multipart upload (it hashes the file first) read by bucketfs
  c.s3.clearRequests();
  await rclone(['copyto', path.join(dir, 'big.bin'), `moto:${B}/h3/big.bin`, '--s3-upload-cutoff', '5M', '--s3-chunk-size', '5M']);
  const versionHead = c.s3.requests.filter((r) => r.method === 'HEAD' && r.query.versionId === 'null' && r.path === `/${B}/h3/big.bin`);
  assert.deepEqual(
    versionHead.map((r) => r.status),
    [200],
    "rclone's HEAD ?versionId=null after its multipart upload is answered",
  );
  assert.match((await serverMeta('h3/big.bin')).etag, /-3"$/);
  assert.equal(await ok(c, ['lsf', '-F', 'ph', `moto:${B}/h3`]), `big.bin;${md5(big)}\n`);
  const backDir = local('hashes-back');
  await ok(c, ['copy', `moto:${B}/h3`, backDir]);
  assert.ok(readFileSync(path.join(backDir, 'big.bin')).equals(big));
  await rclone(['check', dir, `moto:${B}/h3`, '--one-way', '--include', 'big.bin']);
});

// Names both tools can write from a local disk (see the header for the two left out). Control
// characters and DEL are shown by both as their symbols (rclone's standard names); a name really
// containing such a symbol is quoted ('‛'); a byte that is not UTF-8 is the key "‛FF".
const HOSTILE: Array<string | Buffer> = [
  'café nfc'.normalize('NFC'),
  'café nfd'.normalize('NFD'),
  ' leading space',
  'trailing space ',
  '..leading dots',
  'trailing dot.',
  '．fullwidth dot',
  'fullwidth：colon',
  'back\\slash',
  'q?*<>|"',
  'percent%41',
  'ctl\x01char',
  'tab\tchar',
  'del\x7f',
  '␀ symbol',
  'sym␁bol',
  '日本語 ファイル',
  Buffer.from([0x62, 0x61, 0x64, 0xff, 0x75, 0x74, 0x66, 0x38]), // "bad\xffutf8"
  'sub dir/ inner /file',
];

function makeHostileTree(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const n of HOSTILE) {
    const rel = Buffer.isBuffer(n) ? Buffer.concat([Buffer.from(dir + '/'), n]) : path.join(dir, n);
    if (!Buffer.isBuffer(n) && n.includes('/')) mkdirSync(path.dirname(rel as string), { recursive: true });
    writeFileSync(rel, Buffer.isBuffer(n) ? n : Buffer.from(n));
  }
}

/** Every file under dir, recursively, as latin1 (byte-exact) relative paths, sorted. */
function localTree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: Buffer, rel: string) => {
    for (const e of readdirSync(d, { withFileTypes: true, encoding: 'buffer' }) as unknown as Array<{ name: Buffer; isDirectory(): boolean }>) {
      const name = e.name.toString('latin1');
      const full = Buffer.concat([d, Buffer.from('/'), e.name]);
      if (e.isDirectory()) walk(full, `${rel}${name}/`);
      else out.push(`${rel}${name}`);
    }
  };
  walk(Buffer.from(dir), '');
  return out.sort();
}

test('names: hostile names written by either tool are the same keys, list the same, and come back the same', async () => {
  const src = local('hostile');
  makeHostileTree(src);
  await rclone(['copy', src, `moto:${B}/names-r`, '--low-level-retries', '1']);
  await ok(c, ['copy', src, `moto:${B}/names-b`]);
  // the same keys on the server
  const keysR = await serverKeys('names-r/');
  assert.equal(keysR.length, HOSTILE.length);
  assert.deepEqual(await serverKeys('names-b/'), keysR);
  assert.ok(keysR.includes('bad‛FFutf8'), JSON.stringify(keysR));
  assert.ok(keysR.includes('ctl\x01char') && keysR.includes('sym␁bol'), JSON.stringify(keysR));
  assert.ok(keysR.includes('café nfd'.normalize('NFD')) && keysR.includes('café nfc'.normalize('NFC')), 'NFC and NFD are distinct keys');
  // the same listings, byte for byte, whichever tool wrote and whichever lists
  const fast = ['--low-level-retries', '1'];
  const listing = sortedLines((await rclone(['lsf', '-R', `moto:${B}/names-r`, ...fast])).stdoutBytes.toString('latin1'));
  assert.equal(listing.length, HOSTILE.length + 2); // and the two directories
  assert.ok(listing.includes(Buffer.from('bad\xffutf8', 'latin1').toString('latin1')), 'the raw byte, as rclone prints it');
  assert.ok(listing.includes(Buffer.from('ctl␁char').toString('latin1')), 'control characters as their symbols');
  assert.ok(listing.includes(Buffer.from('sym‛␁bol').toString('latin1')), 'a real symbol quoted');
  for (const prefix of ['names-r', 'names-b']) {
    assert.deepEqual(
      sortedLines((await rclone(['lsf', '-R', `moto:${B}/${prefix}`, ...fast])).stdoutBytes.toString('latin1')),
      listing,
      `rclone lsf -R ${prefix}`,
    );
    assert.deepEqual(sortedLines(await bfsBytes(['lsf', '-R', `moto:${B}/${prefix}`])), listing, `bucketfs lsf -R ${prefix}`);
  }
  // back to disk: each tool restores the other's upload under the original names
  const original = localTree(src);
  await ok(c, ['copy', `moto:${B}/names-r`, local('hostile-back-bfs')]);
  await rclone(['copy', `moto:${B}/names-b`, local('hostile-back-rclone'), ...fast]);
  assert.deepEqual(localTree(local('hostile-back-bfs')), original);
  assert.deepEqual(localTree(local('hostile-back-rclone')), original);
  // "." and ".." cannot come from a local disk: their standard names "．" and "．．" (fullwidth), made remotely
  await rclone(['touch', `moto:${B}/dots/．`]);
  await ok(c, ['touch', `moto:${B}/dots/．．`]);
  assert.deepEqual(await serverKeys('dots/'), ['．', '．．']);
  assert.equal((await rclone(['lsf', `moto:${B}/dots`])).stdout, await ok(c, ['lsf', `moto:${B}/dots`]));
  // a name that is not UTF-8 on the command line (a shell passes the raw byte; Node alone cannot)
  const bad = Buffer.from('bad\xffutf8', 'latin1');
  const sh = await run('sh', ['-c', `"$NODE" "$BFS" copyto "moto:${B}/names-r/bad$(printf '\\377')utf8" "$OUT$(printf '\\377')"`], {
    env: { ...c.env, NODE: process.execPath, BFS: bucketfsBin, OUT: local('argv-') },
  });
  assert.equal(sh.code, 0, sh.stderr);
  assert.ok(readFileSync(Buffer.concat([Buffer.from(local('argv-')), Buffer.from([0xff])])).equals(bad));
});

test('touch: rclone touch read by bucketfs, bucketfs touch read by rclone, each updating the other', async () => {
  await rclone(['touch', '-t', '2019-01-02T03:04:05.123456789', `moto:${B}/t/by-rclone`]);
  await ok(c, ['touch', '-t', '2018-01-01T00:00:00.5', `moto:${B}/t/by-bucketfs`]);
  const expect = ['        0 2018-01-01 00:00:00.500000000 by-bucketfs', '        0 2019-01-02 03:04:05.123456789 by-rclone'];
  assert.deepEqual(sortedLines(await ok(c, ['lsl', `moto:${B}/t`])), expect);
  assert.deepEqual(sortedLines((await rclone(['lsl', `moto:${B}/t`])).stdout), expect);
  assert.equal(await ok(c, ['cat', `moto:${B}/t/by-rclone`]), '');
  // each tool sets the time of the other's object (a server-side copy onto itself)
  await ok(c, ['touch', '-t', '2022-02-02T02:02:02.000000002', `moto:${B}/t/by-rclone`]);
  await rclone(['touch', '-t', '2023-03-03T03:03:03.000000003', `moto:${B}/t/by-bucketfs`]);
  const after = ['        0 2022-02-02 02:02:02.000000002 by-rclone', '        0 2023-03-03 03:03:03.000000003 by-bucketfs'].sort();
  assert.deepEqual(sortedLines((await rclone(['lsl', `moto:${B}/t`])).stdout), after);
  assert.deepEqual(sortedLines(await ok(c, ['lsl', `moto:${B}/t`])), after);
});

test('mkdir: buckets and directories made by either tool, as the other lists them', async () => {
  await ok(c, ['mkdir', 'moto:made-by-bucketfs']);
  await rclone(['mkdir', 'moto:made-by-rclone']);
  const names = (s: string) => sortedLines(s).map((l) => l.slice(43));
  const bfsBuckets = names(await ok(c, ['lsd', 'moto:']));
  assert.deepEqual(names((await rclone(['lsd', 'moto:'])).stdout), bfsBuckets);
  assert.ok(bfsBuckets.includes('made-by-bucketfs') && bfsBuckets.includes('made-by-rclone'));

  // bucketfs mkdir leaves a directory marker: rclone sees the directory; rclone's own mkdir of a
  // directory inside a bucket stores nothing (S3 has no directories), so neither lists it
  await ok(c, ['mkdir', `moto:${B}/d/made-by-bucketfs`]);
  await rclone(['mkdir', `moto:${B}/d/made-by-rclone`]);
  await ok(c, ['touch', `moto:${B}/d/file`]);
  const fmt = ['lsf', '-F', 'ps', `moto:${B}/d`];
  assert.equal(await ok(c, fmt), 'file;0\nmade-by-bucketfs/;0\n');
  assert.deepEqual(sortedLines((await rclone(fmt)).stdout), sortedLines(await ok(c, fmt)));
  const noTime = (s: string) => sortedLines(s).map((l) => l.slice(0, 12) + l.slice(32));
  assert.deepEqual(noTime((await rclone(['lsd', `moto:${B}/d`])).stdout), noTime(await ok(c, ['lsd', `moto:${B}/d`])));
  assert.deepEqual(noTime(await ok(c, ['lsd', `moto:${B}/d`])), ['           0        -1 made-by-bucketfs']);
  // removed by bucketfs rmdir: gone for rclone too
  await ok(c, ['rmdir', `moto:${B}/d/made-by-bucketfs`]);
  assert.equal((await rclone(['lsf', `moto:${B}/d`])).stdout, 'file\n');
});
