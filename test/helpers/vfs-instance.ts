// A Vfs in the test process, over the in-memory FakeBackend or the real test server (moto), the
// way `bucketfs mount` builds one (src/cli/mount.ts) minus the kernel: options from
// defaultVfsOptions with overrides, the write layer's extras (remote, clock, upload settings),
// recover() before use. Cache directories made here are removed by cleanupVfsDirs().
//
// A crash of such an instance is simulated by abandoning it (never closed, its FakeClock never
// advanced again) and marking its journals as left by a process that is gone (orphanJournals):
// recovery skips the journals of the live process, as it must for a mount that is running.
import { mkdtempSync, rmSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createS3Backend, type S3Backend } from '../../src/backend/s3/backend.js';
import type { S3BackendApi } from '../../src/backend/s3/types.js';
import { MountRoot } from '../../src/vfs/paths.js';
import { defaultVfsOptions, type VfsOptions } from '../../src/config/vfs-options.js';
import { Vfs, type VfsExtras } from '../../src/vfs/vfs.js';
import { defaultOptions } from '../integration/backend-fixtures.js';
import { FakeBackend, memoryLog } from './fake-backend.js';
import type { TestS3 } from './s3-server.js';

const dirs = new Set<string>();

/** A fresh cache directory, removed by cleanupVfsDirs(). */
export function vfsCacheDir(prefix = 'bucketfs-vfs-'): string {
  const d = mkdtempSync(path.join(os.tmpdir(), prefix));
  dirs.add(d);
  return d;
}

/** For after(): remove every cache directory made by vfsCacheDir(). */
export function cleanupVfsDirs(): void {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs.clear();
}

const quiet = { error: () => {}, notice: () => {}, info: () => {}, debug: () => {}, enabled: () => false };

/** An S3 backend pointed at the test server, with a short retry budget (failures are fast). */
export function motoBackend(s3: TestS3): S3Backend {
  return createS3Backend(defaultOptions(s3.endpoint), { log: quiet, retries: 4, retryBaseMs: 5, retryMaxDelayMs: 20 });
}

export interface VfsInstanceOptions<B extends S3BackendApi> {
  /** default: a new FakeBackend */
  backend?: B;
  /** default: 'bucket' */
  bucket?: string;
  /** the mounted folder of the bucket ('' = its root) */
  prefix?: string;
  /** default: a fresh one; pass the same directory to "remount" over the same cache */
  cacheDir?: string;
  opts?: Partial<VfsOptions>;
  extras?: VfsExtras;
}

export interface VfsInstance<B extends S3BackendApi> {
  vfs: Vfs;
  backend: B;
  cacheDir: string;
  log: ReturnType<typeof memoryLog>;
}

/** A Vfs as a mount builds it; recover() has run (uploads a previous instance left are started). */
export async function vfsInstance<B extends S3BackendApi = FakeBackend>(o: VfsInstanceOptions<B> = {}): Promise<VfsInstance<B>> {
  const backend = (o.backend ?? new FakeBackend()) as B;
  const cacheDir = o.cacheDir ?? vfsCacheDir();
  const log = memoryLog();
  const opts = defaultVfsOptions({ cacheDir, ...o.opts });
  const vfs = new Vfs(backend, new MountRoot(o.bucket ?? 'bucket', o.prefix ?? ''), opts, log, { remote: 'test', ...o.extras });
  await vfs.recover();
  return { vfs, backend, cacheDir, log };
}

/** An orderly unmount: everything pending uploaded, then closed. */
export async function unmountVfs(vfs: Vfs): Promise<void> {
  try {
    await vfs.flushAll();
  } finally {
    await vfs.close();
  }
}

/** Make every journal under `dir` look like it was left by a process that is gone; returns how many. */
export async function orphanJournals(dir: string): Promise<number> {
  let n = 0;
  const walk = async (d: string): Promise<void> => {
    let entries;
    try {
      entries = await fs.readdir(d, { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    for (const e of entries) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.name.endsWith('.json')) {
        const j = JSON.parse(await fs.readFile(p, 'utf8'));
        j.owner = { pid: 2 ** 22 + 4321, start: '1' };
        await fs.writeFile(p, JSON.stringify(j));
        n++;
      }
    }
  };
  await walk(dir);
  return n;
}

/** the whole content of a file (up to 64 KiB) read through a Vfs by path */
export async function readName(vfs: Vfs, p: string): Promise<Buffer> {
  const fh = await vfs.open(p, 0);
  try {
    const b = Buffer.alloc(1 << 16);
    return b.subarray(0, await vfs.read(fh, b, b.length, 0));
  } finally {
    await vfs.release(fh);
  }
}
