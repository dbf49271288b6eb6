// The metadata kept across mounts (vfs/meta-store.ts): trusted only for the same ETag and size,
// a torn or foreign line is skipped and the file rewritten, old entries dropped at load.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ObjectInfo } from '../../src/backend/s3/types.js';
import { META_STORE_MAX_AGE_MS, MetaStore } from '../../src/vfs/meta-store.js';
import { memoryLog } from '../helpers/fake-backend.js';

function info(key: string, etag: string, size: number, mtimeNs: bigint | null): ObjectInfo {
  return { path: key, etag, size, mtimeNs, lastModified: new Date(1_700_000_000_000), metadata: { mtime: 'x' }, contentType: 'text/plain' };
}

async function tempFile(): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bucketfs-meta-'));
  return path.join(dir, 'sub', 'bucket.jsonl');
}

test('what a HEAD said is found again by a new store, for the same ETag and size only', async () => {
  const file = await tempFile();
  const a = new MetaStore(file, memoryLog());
  await a.ready;
  a.put(info('d/f1', '"e1"', 10, 1_600_000_000_123_456_789n));
  a.put(info('d/f2', '"e2"', 20, null));
  await a.close();
  const b = new MetaStore(file, memoryLog());
  await b.ready;
  assert.equal(b.get('d/f1', '"e1"', 10)?.mtimeNs, 1_600_000_000_123_456_789n);
  assert.equal(b.get('d/f1', '"e1"', 10)?.contentType, 'text/plain');
  assert.equal(b.get('d/f2', '"e2"', 20)?.mtimeNs, null);
  assert.equal(b.get('d/f1', '"changed"', 10), undefined, 'another ETag: another object');
  assert.equal(b.get('d/f1', '"e1"', 11), undefined, 'another size: another object');
  assert.equal(b.get('d/none', '"e1"', 10), undefined);
});

test('a torn last line and garbage are skipped, the file is rewritten; entries past the age are dropped', async () => {
  const file = await tempFile();
  const a = new MetaStore(file, memoryLog());
  await a.ready;
  a.put(info('k', '"e"', 1, 5n));
  await a.close();
  const old = JSON.stringify({ k: 'old', e: '"o"', s: 1, lm: 0, m: null, md: {}, t: Date.now() - META_STORE_MAX_AGE_MS - 1 });
  await fs.appendFile(file, `${old}\nnot json at all\n{"k":"torn","e":"`);
  const log = memoryLog();
  const b = new MetaStore(file, log);
  await b.ready;
  assert.equal(b.get('k', '"e"', 1)?.mtimeNs, 5n);
  assert.equal(b.get('old', '"o"', 1), undefined);
  assert.match(log.lines.join('\n'), /2 of 4 lines unreadable, skipped/);
  const lines = (await fs.readFile(file, 'utf8')).trim().split('\n');
  assert.equal(lines.length, 1, 'compacted to what is kept');
  // a file that is not a file at all: the store is not used, and nothing fails
  const dirAsFile = await tempFile();
  await fs.mkdir(dirAsFile, { recursive: true });
  const c = new MetaStore(dirAsFile, memoryLog());
  await c.ready;
  c.put(info('k', '"e"', 1, 5n));
  assert.equal(c.get('k', '"e"', 1)?.mtimeNs, 5n, 'still answers from memory');
  await c.close();
});
