// Metadata that survives a remount (#9): what the HEADs of `ls -l` said is kept under
// --cache-dir, keyed by the object's ETag and size, so a remount of an unchanged folder costs its
// LIST and no HEAD; an object changed behind the mount's back (a new ETag) costs exactly one; a
// damaged metadata file is rebuilt, never fatal. Counted at the server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { run } from '../helpers/run.js';
import { mount, sighup, tempDir, useS3Bucket, MOUNT_TEST } from '../helpers/mount.js';

const BUCKET = 'meta-bucket';
const FILES = 40;
const bucket = useS3Bucket(BUCKET, {
  async setup(s3) {
    const c = s3.directClient();
    await Promise.all(
      Array.from({ length: FILES }, (_, i) =>
        c.send(
          new PutObjectCommand({
            Bucket: BUCKET,
            Key: `m/f${String(i).padStart(2, '0')}`,
            Body: `file ${i}\n`,
            Metadata: { mtime: `${1_600_000_000 + i}.25` },
          }),
        ),
      ),
    );
    c.destroy();
  },
});

/** HEADs and GETs of objects (a directory's marker, HEADed once per mount for its own attributes, not counted) */
function objectReads(type: 'HEAD' | 'GET'): number {
  return bucket.s3.requests.filter((r) => r.type === type && !r.path.endsWith('/')).length;
}

async function lsl(dir: string): Promise<string> {
  const r = await run('ls', ['-l', '--time-style=+%s', dir], { env: { ...process.env, TZ: 'UTC' } });
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

test('a remount lists an unchanged folder with 0 HEAD; a changed object costs one; a damaged metadata file is rebuilt', MOUNT_TEST, async () => {
  const cacheDir = await tempDir('bucketfs-cache-');
  // --attr-timeout 0: every ls -l asks the mount (not the kernel's attribute cache)
  const flags = ['--cache-dir', cacheDir, '--attr-timeout', '0'];
  const s3 = bucket.s3;

  const first = await mount(s3, `moto:${BUCKET}`, { flags });
  s3.clearRequests();
  const cold = await lsl(path.join(first.mnt, 'm'));
  // (the first stats GET their small file: the response carries the same metadata)
  assert.equal(objectReads('HEAD') + objectReads('GET'), FILES, 'the first ls -l HEADs each file');
  assert.match(cold, / 1600000007 f07\n/);
  assert.equal((await first.unmount()).code, 0, first.stderr());
  const store = (await run('find', [path.join(cacheDir, 'meta'), '-name', '*.jsonl'])).stdout.trim();
  assert.ok(store, 'the metadata file is under --cache-dir/meta');

  const second = await mount(s3, `moto:${BUCKET}`, { flags, mnt: first.mnt });
  try {
    s3.clearRequests();
    assert.equal(await lsl(path.join(second.mnt, 'm')), cold, 'the same listing, mtimes included');
    assert.equal(objectReads('HEAD'), 0, 'no HEAD for unchanged objects');
    assert.equal(objectReads('GET'), 0, 'no GET either');
    assert.equal(s3.counts().LIST, 1);

    // another client rewrites one object: a new ETag in the next listing, so one HEAD
    await s3.putObject(BUCKET, 'm/f03', Buffer.from('rewritten elsewhere\n'));
    await sighup(second);
    s3.clearRequests();
    const after = await lsl(path.join(second.mnt, 'm'));
    // (SIGHUP forgot that m/ is a directory too: its lookup probes it again)
    // (a HEAD, or the GET of the small file whose response says the same)
    assert.deepEqual(
      s3.requests.filter((r) => (r.type === 'HEAD' || r.type === 'GET') && r.path.startsWith(`/${BUCKET}/m/`) && r.path !== `/${BUCKET}/m/`).map((r) => r.path),
      [`/${BUCKET}/m/f03`],
    );
    assert.doesNotMatch(after, / 1600000003 f03\n/, 'f03 shows its new time');
  } finally {
    await second.unmount();
  }

  await fs.writeFile(store, '\u0000garbage\n{"k":');
  const third = await mount(s3, `moto:${BUCKET}`, { flags, mnt: first.mnt });
  try {
    s3.clearRequests();
    assert.equal((await lsl(path.join(third.mnt, 'm'))).split('\n').length, cold.split('\n').length);
    assert.equal(objectReads('HEAD') + objectReads('GET'), FILES, 'nothing trusted from the damaged file');
    assert.match(third.stderr(), /lines unreadable, skipped \(rebuilt\)/);
  } finally {
    await third.unmount();
  }
});

test(
  'a chmod of a stored file (its copy keeps the ETag and the mtime) is not hidden by what an earlier HEAD kept: a remount shows the new mode',
  MOUNT_TEST,
  async () => {
    const cacheDir = await tempDir('bucketfs-cache-');
    const flags = ['--cache-dir', cacheDir, '--attr-timeout', '0'];
    const first = await mount(bucket.s3, `moto:${BUCKET}`, { flags });
    const f = (mnt: string) => path.join(mnt, 'm/f10');
    await lsl(path.join(first.mnt, 'm'));
    const before = await fs.stat(f(first.mnt));
    assert.equal(before.mode & 0o777, 0o644);
    const etag = (await bucket.headObject('m/f10')).ETag;
    await fs.chmod(f(first.mnt), 0o600);
    await fs.stat(f(first.mnt));
    assert.equal((await bucket.headObject('m/f10')).ETag, etag, 'a copy of a single-part object keeps its ETag');
    assert.equal((await first.unmount()).code, 0, first.stderr());
    const second = await mount(bucket.s3, `moto:${BUCKET}`, { flags, mnt: first.mnt });
    try {
      // (listed, so that the listing's ETag is what the kept metadata is matched with)
      assert.match(await lsl(path.join(second.mnt, 'm')), /^-rw------- .* f10$/m);
      const st = await fs.stat(f(second.mnt));
      assert.equal(st.mode & 0o777, 0o600);
      assert.equal(st.mtimeMs, before.mtimeMs);
    } finally {
      await second.unmount();
    }
  },
);
