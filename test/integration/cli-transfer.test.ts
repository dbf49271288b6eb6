// Transfers through the real CLI process against moto: rcat streaming as multipart, what an
// interrupted or failed rcat leaves behind (nothing, unless --s3-leave-parts-on-error), the
// multipart backend commands, copy/copyto in every direction with nanosecond mtimes, skipping
// unchanged files, server-side copies, --dry-run and -P.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, statSync, writeFileSync, utimesSync } from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { GetObjectCommand, HeadObjectCommand, ListMultipartUploadsCommand } from '@aws-sdk/client-s3';
import { bucketfsBin } from '../helpers/run.js';
import { boto3 } from '../helpers/run.js';
import { useCli, ok, fails, cli, checkClean, writes } from './cli-support.js';

const MiB = 1024 * 1024;
const B = 'xfer-bucket';
const c = useCli(B);

async function pendingUploads(bucket = B): Promise<Array<{ Key?: string; UploadId?: string }>> {
  const client = c.s3.directClient();
  try {
    const r = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
    return r.Uploads ?? [];
  } finally {
    client.destroy();
  }
}

async function headMeta(key: string, bucket = B): Promise<Record<string, string> | undefined> {
  const client = c.s3.directClient();
  try {
    return (await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))).Metadata;
  } catch {
    return undefined;
  } finally {
    client.destroy();
  }
}

function pattern(n: number, seed = 1): Buffer {
  const b = Buffer.alloc(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    b[i] = x >>> 16;
  }
  return b;
}

test('rcat of 12 MiB with --s3-chunk-size 5M: one multipart upload of 3 parts, content intact', async () => {
  const data = pattern(12 * MiB);
  c.s3.clearRequests();
  await ok(c, ['rcat', '--s3-chunk-size', '5M', `moto:${B}/stream.bin`], { input: data });
  const counts = c.s3.counts();
  assert.equal(counts.MPc, 1, JSON.stringify(counts));
  assert.equal(counts.MPp, 3, JSON.stringify(counts));
  assert.equal(counts.MPf, 1, JSON.stringify(counts));
  assert.equal(counts.PUT ?? 0, 0);
  const client = c.s3.directClient();
  const got = await client.send(new GetObjectCommand({ Bucket: B, Key: 'stream.bin' }));
  assert.ok(Buffer.from(await got.Body!.transformToByteArray()).equals(data));
  assert.match(got.Metadata?.mtime ?? '', /^\d{10}(\.\d{1,9})?$/);
  client.destroy();
  assert.deepEqual(await pendingUploads(), []);
});

test('rcat killed mid-stream (SIGTERM) aborts its multipart upload: nothing left behind', async () => {
  c.s3.clearRequests();
  const child = spawn(process.execPath, [bucketfsBin, 'rcat', '--s3-chunk-size', '5M', `moto:${B}/killed.bin`], {
    env: c.env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin.on('error', () => {});
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let code: number | null;
  try {
    // Two full parts (the backend sees a second part before it starts a multipart upload for a
    // stream), then keep the stream open: the upload is in progress, not finished.
    child.stdin.write(pattern(11 * MiB, 3));
    const deadline = Date.now() + 20_000;
    while (!c.s3.requests.some((r) => r.type === 'MPp' && r.status === 200)) {
      assert.ok(Date.now() < deadline, `no part was uploaded: ${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal((await pendingUploads()).length, 1, 'the upload should be in progress');
    child.kill('SIGTERM');
    code = await exited;
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
  assert.notEqual(code, 0);
  assert.ok(!stderr.includes('testing-secret-key'), 'secret in stderr');
  assert.ok(!/^\s+at /m.test(stderr), stderr);
  assert.deepEqual(await pendingUploads(), [], 'the interrupted upload must be aborted');
  assert.equal(c.s3.counts().MPabort, 1);
  assert.equal(await headMeta('killed.bin'), undefined, 'no partial object');
});

test('a failing part aborts the upload; --s3-leave-parts-on-error keeps it; backend commands list and clean it', async () => {
  const data = pattern(11 * MiB, 5);
  // The second part is refused (not retryable), so the upload fails after one part is stored.
  let parts = 0;
  const refusePart2 = (r: { type: string }) => (r.type === 'MPp' && ++parts === 2 ? { status: 403, code: 'AccessDenied' } : undefined);
  await c.s3.withFault(refusePart2, async () => {
    const r = await fails(c, ['rcat', '--s3-chunk-size', '5M', `moto:${B}/failed.bin`], { input: data });
    assert.ok(r.code === 7, `exit code ${r.code}`);
    assert.deepEqual(await pendingUploads(), []);

    parts = 0;
    const kept = await cli(c, ['rcat', '--s3-chunk-size', '5M', '--s3-leave-parts-on-error', `moto:${B}/kept.bin`], { input: data });
    assert.equal(kept.code, 7);
    assert.match(kept.stderr, /^bucketfs: .+$/m);
  });
  const pending = await pendingUploads();
  assert.equal(pending.length, 1);
  assert.equal(pending[0]!.Key, 'kept.bin');

  // list-multipart-uploads: rclone's JSON, keyed by bucket.
  const listed = JSON.parse(await ok(c, ['backend', 'list-multipart-uploads', `moto:${B}`])) as Record<string, Array<Record<string, unknown>>>;
  assert.deepEqual(Object.keys(listed), [B]);
  assert.equal(listed[B]!.length, 1);
  assert.equal(listed[B]![0]!.Key, 'kept.bin');
  assert.equal(listed[B]![0]!.UploadId, pending[0]!.UploadId);
  assert.match(String(listed[B]![0]!.Initiated), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
  const all = JSON.parse(await ok(c, ['backend', 'list-multipart-uploads', 'moto:'])) as Record<string, unknown[]>;
  assert.equal(all[B]!.length, 1);

  // moto reports every upload as initiated on 2010-11-10, so "fresh" means a max-age beyond that:
  // 100y keeps it; --dry-run and -i (answered "n") change nothing.
  c.s3.clearRequests();
  await ok(c, ['backend', 'cleanup', '-o', 'max-age=100y', `moto:${B}`]);
  const dry = await cli(c, ['backend', 'cleanup', '--dry-run', `moto:${B}`]);
  assert.equal(dry.code, 0);
  assert.match(dry.stderr, /key "kept\.bin" dated .*: Skipped remove pending upload as --dry-run is set/);
  const asked = await cli(c, ['backend', 'cleanup', '-i', '-o', 'max-age=1ms', `moto:${B}`], { input: 'n\n' });
  assert.equal(asked.code, 0);
  assert.match(asked.stderr, /remove pending upload "pending multipart upload for bucket "xfer-bucket" key "kept\.bin"/);
  assert.equal(writes(c.s3), 0);
  assert.equal((await pendingUploads()).length, 1);

  // The default max-age, 24h, removes it.
  await ok(c, ['backend', 'cleanup', `moto:${B}`]);
  assert.equal(c.s3.counts().MPabort, 1);
  assert.deepEqual(await pendingUploads(), []);
  await fails(c, ['backend', 'cleanup', '-o', 'max-age=soon', `moto:${B}`], { code: 1, match: /max-age/ });
  await fails(c, ['backend', 'cleanup', '-o', 'maxage=1h', `moto:${B}`], { code: 1, match: /unknown option/ });
  await fails(c, ['backend', 'frobnicate', `moto:${B}`], { code: 1, match: /unknown command/ });
});

function statNs(p: string): bigint {
  return statSync(p, { bigint: true }).mtimeNs;
}

test('copy local → remote → local keeps mtimes to the nanosecond; a second copy transfers nothing', async () => {
  const src = path.join(c.dir, 'src');
  mkdirSync(path.join(src, 'sub/deeper'), { recursive: true });
  const files: Record<string, Buffer> = {
    'a.txt': Buffer.from('alpha\n'),
    'sub/b.bin': pattern(300_000, 9),
    'sub/deeper/c.txt': Buffer.from('gamma'),
    empty: Buffer.alloc(0),
  };
  const times: Record<string, string> = {
    'a.txt': '1600000000.123456789',
    'sub/b.bin': '1500000000.000000001',
    'sub/deeper/c.txt': '1234567890.987654321',
    empty: '1700000000',
  };
  for (const [rel, data] of Object.entries(files)) {
    writeFileSync(path.join(src, rel), data);
    execFileSync('touch', ['-d', `@${times[rel]}`, path.join(src, rel)]);
  }

  c.s3.clearRequests();
  await ok(c, ['copy', src, `moto:${B}/tree`]);
  assert.equal(c.s3.counts().PUT, 4);
  // Stored as rclone stores it, read back by boto3.
  const meta = JSON.parse(
    await boto3(
      c.s3.directEndpoint,
      `print(json.dumps({k: s3.head_object(Bucket="${B}", Key="tree/" + k)["Metadata"].get("mtime") for k in ${JSON.stringify(Object.keys(files))}}))`,
    ),
  );
  assert.deepEqual(meta, {
    'a.txt': '1600000000.123456789',
    'sub/b.bin': '1500000000.000000001',
    'sub/deeper/c.txt': '1234567890.987654321',
    empty: '1700000000',
  });

  const dst = path.join(c.dir, 'dst');
  await ok(c, ['copy', `moto:${B}/tree`, dst]);
  for (const [rel, data] of Object.entries(files)) {
    assert.ok(readFileSync(path.join(dst, rel)).equals(data), rel);
    assert.equal(statNs(path.join(dst, rel)), statNs(path.join(src, rel)), `mtime of ${rel}`);
  }

  // Nothing changed: no data moves in either direction.
  c.s3.clearRequests();
  await ok(c, ['copy', src, `moto:${B}/tree`]);
  assert.equal(writes(c.s3), 0, JSON.stringify(c.s3.counts()));
  c.s3.clearRequests();
  await ok(c, ['copy', `moto:${B}/tree`, dst]);
  assert.equal(c.s3.counts().GET ?? 0, 0, JSON.stringify(c.s3.counts()));

  // One file changed (content and time) → exactly that one is uploaded.
  writeFileSync(path.join(src, 'a.txt'), 'alpha, changed\n');
  c.s3.clearRequests();
  await ok(c, ['copy', src, `moto:${B}/tree`]);
  assert.equal(c.s3.counts().PUT, 1);
  assert.equal(writes(c.s3), 1);

  // Same content, other time: only the time is updated (server-side copy onto itself, no upload).
  execFileSync('touch', ['-d', '@1400000000.25', path.join(src, 'sub/deeper/c.txt')]);
  c.s3.clearRequests();
  await ok(c, ['copy', src, `moto:${B}/tree`]);
  assert.equal(c.s3.counts().PUT ?? 0, 0, JSON.stringify(c.s3.counts()));
  assert.equal(c.s3.counts().COPY, 1);
  assert.equal((await headMeta('tree/sub/deeper/c.txt'))?.mtime, '1400000000.25');
});

test('copyto: single files both ways, remote → remote server-side with metadata kept', async () => {
  const f = path.join(c.dir, 'one.txt');
  writeFileSync(f, 'one file\n');
  utimesSync(f, 1600000000, 1600000000);
  await ok(c, ['copyto', f, `moto:${B}/single/renamed.txt`]);
  assert.equal(await ok(c, ['cat', `moto:${B}/single/renamed.txt`]), 'one file\n');
  assert.equal((await headMeta('single/renamed.txt'))?.mtime, '1600000000');

  c.s3.clearRequests();
  await ok(c, ['copyto', `moto:${B}/single/renamed.txt`, `moto:${B}/single/server-side.txt`]);
  assert.deepEqual(
    Object.keys(c.s3.counts()).filter((t) => t === 'PUT' || t === 'GET' || t === 'COPY'),
    ['COPY'],
    'a server-side copy moves no data through the client',
  );
  assert.equal((await headMeta('single/server-side.txt'))?.mtime, '1600000000');

  const back = path.join(c.dir, 'back', 'x.txt');
  await ok(c, ['copyto', `moto:${B}/single/server-side.txt`, back]);
  assert.equal(readFileSync(back, 'utf8'), 'one file\n');
  assert.equal(statNs(back), 1600000000n * 1_000_000_000n);

  // copy of a single file puts it inside the destination directory.
  await ok(c, ['copy', f, `moto:${B}/into`]);
  assert.equal(await ok(c, ['ls', `moto:${B}/into`]), '        9 one.txt\n');

  await fails(c, ['copyto', path.join(c.dir, 'missing.txt'), `moto:${B}/x`], { code: 4, match: /not found/ });
  await fails(c, ['copyto', `moto:${B}/single/nothing`, path.join(c.dir, 'n.txt')], { code: 3 });
  await fails(c, ['copy', `moto:no-such-bucket-here/x`, path.join(c.dir, 'n')], { code: 3 });
});

test('--dry-run makes no write requests and says what it would do', async () => {
  const src = path.join(c.dir, 'dry');
  mkdirSync(src, { recursive: true });
  writeFileSync(path.join(src, 'new.txt'), 'new');
  c.s3.clearRequests();
  const runs = [
    ['copy', '--dry-run', src, `moto:${B}/dry`],
    ['copyto', '-n', path.join(src, 'new.txt'), `moto:${B}/dry/x.txt`],
    ['rcat', '--dry-run', `moto:${B}/dry/rcat.txt`],
    ['touch', '--dry-run', `moto:${B}/dry/touched.txt`],
    ['touch', '--dry-run', `moto:${B}/single/renamed.txt`],
    ['mkdir', '--dry-run', `moto:${B}/dry/dir`],
    ['mkdir', '--dry-run', 'moto:dry-new-bucket'],
    ['deletefile', '--dry-run', `moto:${B}/single/renamed.txt`],
    ['delete', '--dry-run', `moto:${B}/tree`],
    ['purge', '--dry-run', `moto:${B}/tree`],
    ['purge', '--dry-run', `moto:${B}`],
    ['rmdir', '--dry-run', 'moto:dry-run-empty'],
  ];
  await c.s3.createBucket('dry-run-empty');
  c.s3.clearRequests();
  for (const args of runs) {
    const r = await cli(c, args, { input: 'data' });
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /Skipped .* as --dry-run is set/, args.join(' '));
  }
  assert.equal(writes(c.s3), 0, JSON.stringify(c.s3.requests.filter((r) => !['GET', 'HEAD', 'LIST'].includes(r.type)).map((r) => `${r.method} ${r.path}`)));
});

test('-P prints progress on stderr, not stdout', async () => {
  const f = path.join(c.dir, 'prog.bin');
  writeFileSync(f, pattern(2 * MiB, 11));
  const r = await cli(c, ['copyto', '-P', f, `moto:${B}/prog.bin`]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /Transferred: +2 MiB \/ 2 MiB, 100%, .*\/s, ETA/);
  const piped = await cli(c, ['rcat', '-P', `moto:${B}/prog2.bin`], { input: pattern(MiB, 12) });
  assert.equal(piped.code, 0, piped.stderr);
  assert.match(piped.stderr, /Transferred: +1 MiB, /);
  checkClean(piped, ['rcat']);
});
