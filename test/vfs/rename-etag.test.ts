// A bug the model-based test (write-model.test.ts) found: Namespace.renameFile noted the target
// with the source's ETag. A server-side copy gets a new ETag whenever the source was a multipart
// upload (on S3 and moto), and always on the fake backend; an open that builds a cache file from
// that stale ETag (--vfs-cache-mode full for any open, writes for O_RDWR) then failed every read
// of the bytes it had to fetch with EIO until the entry expired. The copy's own ETag is used now.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { FakeBackend } from '../helpers/fake-backend.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { cleanupVfsDirs, readName, unmountVfs, vfsInstance } from '../helpers/vfs-instance.js';

after(cleanupVfsDirs);

// Namespace.renameFile notes the target with the source's ETag (listing entry and cached HEAD),
// although its own comment says the ETag check is dropped. A server-side copy gets a new ETag
// whenever the source was a multipart upload (on S3 and moto), and always on the fake backend;
// an open that builds a cache file from that stale ETag (--vfs-cache-mode full for any open,
// writes for O_RDWR) then fails every read of the bytes it has to fetch with EIO ("the object
// changed on the server since this file was opened for writing") until the entry expires.
test('a file renamed on the server reads back in full mode (its copy has a new ETag)', { timeout: 30_000 }, async () => {
  const be = new FakeBackend();
  be.putDirect('d', Buffer.alloc(20_000, 7));
  const { vfs } = await vfsInstance({ backend: be, opts: { cacheMode: 'full', writeBackMs: 5000 }, extras: { clock: new FakeClock() } });
  try {
    assert.equal((await vfs.ns.stat('d')).etag, be.objects.get('d')!.etag);
    await vfs.rename('/d', '/b');
    assert.notEqual(be.objects.get('b')!.etag, undefined);
    assert.deepEqual(await readName(vfs, '/b'), Buffer.alloc(20_000, 7));
  } finally {
    await unmountVfs(vfs).catch(() => undefined);
  }
});
